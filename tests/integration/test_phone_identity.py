"""One owner per phone (docs/guarantees.md, "One owner per phone"): any delivery, any source, any
spelling, racing or queued; a reused delivery id never swallows a signup; a recording failure tells the
truth and is counted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from owner_webhook.sources.presets import PRESETS
from sandbox import queue, senders
from sandbox.events import HttpRequest, LocalContext, http_api_event
from sandbox.gateway import Fault
from sandbox.stack import LOCAL_MAX_RECEIVE_COUNT, Sandbox
from tests.integration.conftest import Answer, deliver, invoke_event
from tests.integration.test_metrics import _emf

Logs = Callable[[], list[dict[str, Any]]]
EXISTING = {"success": True, "existing": True}
UPDATE_ITEM = "DynamoDB_20120810.BatchWriteItem"  # the write that records an owner


def send(request: HttpRequest) -> Answer:
    return invoke_event(http_api_event(request))


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


def _counted(out: str, metric: str) -> int:
    """How many of `metric` the EMF records in `out` add up to (one record per request)."""
    values = [record.get(metric, 0) for record in _emf(out)]
    return sum(sum(value) if isinstance(value, list) else int(value) for value in values)


SPELLINGS = ["0555 123 45 67", "+90 555 123 45 67", "905551234567", "(0555) 123-4567", "(+90) 555\u2013123\u200b4567"]


@pytest.mark.parametrize("source", senders.SOURCES)
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_another_delivery_of_a_phone_with_an_owner_is_answered_existing(
    sandbox: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str], source: str, spelling: str
) -> None:
    assert send(senders.request("zapier", "+905551234567", delivery_id="first")).status == 200
    capsys.readouterr()
    answer = send(senders.request(source, spelling, delivery_id="another"))
    assert (answer.status, answer.body) == (200, EXISTING)
    assert len(sandbox.gateway.received) == 1  # the gateway was not called again
    assert logs()[-1]["outcome"] == "phone_existing"
    assert logs()[-1]["phone"] == "+90555*****67"
    assert _counted(capsys.readouterr().out, "PhoneExisting") == 1


def test_the_same_delivery_again_is_a_replay_not_existing(sandbox: Sandbox, logs: Logs) -> None:
    request = senders.request("typeform", delivery_id="same")
    assert send(request).body == {"success": True}
    assert send(request).body == {"success": True}
    assert [line["outcome"] for line in logs()] == ["owner_created", "duplicate_replayed"]
    assert sandbox.gateway.owners == ["+905551234567"]


def test_without_phone_memory_each_delivery_is_its_own_owner(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_DEDUPLICATION_SECONDS", "0")
    assert send(senders.request("zapier", delivery_id="a")).body == {"success": True}
    assert send(senders.request("tally", delivery_id="b")).body == {"success": True}
    assert sandbox.gateway.owners == ["+905551234567", "+905551234567"]


def test_a_phone_the_gateway_refused_is_not_marked_as_having_an_owner(sandbox: Sandbox, logs: Logs) -> None:
    sandbox.gateway.rejected_phones.add("+905551234567")
    refused = senders.request("zapier", delivery_id="refused")
    assert send(refused).code == "rejected_phone"
    sandbox.gateway.rejected_phones.clear()
    # The refused delivery again: its answer replayed, the gateway not asked.
    assert send(refused).code == "rejected_phone"
    assert len(sandbox.gateway.received) == 1
    # Another delivery of the phone: forwarded, and its owner created.
    assert send(senders.request("tally", delivery_id="later")).body == {"success": True}
    assert sandbox.gateway.owners == ["+905551234567"]
    # ... after which the refused delivery, sent again, learns that the phone has its owner now.
    assert send(refused).body == EXISTING


def test_a_refusal_cleared_by_one_delivery_is_not_cleared_again_over_anothers_owner(sandbox: Sandbox) -> None:
    # Two deliveries of a phone once refused read the refusal; the first clears it and creates the
    # owner before the second clears it: the second must find that owner, not delete it and forward.
    from owner_webhook import wiring

    sandbox.gateway.rejected_phones.add("+905551234567")
    assert send(senders.request("zapier", delivery_id="refused")).code == "rejected_phone"
    sandbox.gateway.rejected_phones.clear()
    ready = wiring.parts()
    deduplication = ready.service.deduplication
    real_replace = deduplication._replace_refusal  # type: ignore[attr-defined]
    overtaken: list[Answer] = []

    def overtaken_replace(*args: Any) -> Any:
        # The other delivery runs to its end (unheld) between this one's read of the refusal and its takeover.
        deduplication._replace_refusal = real_replace  # type: ignore[attr-defined]
        overtaken.append(send(senders.request("tally", delivery_id="fast")))
        return real_replace(*args)

    deduplication._replace_refusal = overtaken_replace  # type: ignore[attr-defined]
    slow = http_api_event(senders.request("zapier", delivery_id="slow"))
    result = ready.service.handle(ready.service.source("zapier"), slow, ready.deadline(LocalContext()), {})
    assert overtaken[0].body == {"success": True}
    assert (result.status, result.body) == (200, EXISTING)
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("fault", [Fault(status=502), Fault(reset=True), Fault(status=429, retry_after=30)])
def test_a_transient_failure_does_not_mark_the_phone(sandbox: Sandbox, fault: Fault) -> None:
    sandbox.gateway.inject(fault)
    assert send(senders.request("zapier", delivery_id="failed")).status == 503
    assert send(senders.request("webflow", delivery_id="other")).body == {"success": True}
    assert sandbox.gateway.owners == ["+905551234567"]


def test_ten_concurrent_deliveries_of_one_phone_create_one_owner(sandbox: Sandbox, instances: list[str]) -> None:
    for n, url in enumerate([*instances, None]):  # every instance warm: the race is about the forward
        assert deliver(senders.request("zapier", f"0555 000 00 0{n}", delivery_id=f"warm-{n}"), url).status == 200
    sandbox.gateway.reset()
    sandbox.gateway.inject(Fault(delay=0.5))  # the first forward is still in flight when the others arrive
    sources = [senders.SOURCES[n % len(senders.SOURCES)] for n in range(10)]
    requests = [senders.request(source, "0555 123 45 67", delivery_id=f"burst-{n}") for n, source in enumerate(sources)]
    answers: list[Answer | None] = [None] * 10
    targets = [*instances, None]

    def race(n: int) -> None:
        answers[n] = deliver(requests[n], targets[n % len(targets)])

    # The in-process instance's deliveries go last, on this thread (its handler is not for threads).
    threads = [threading.Thread(target=race, args=(n,)) for n in range(10) if targets[n % len(targets)]]
    for thread in threads:
        thread.start()
    for n in range(10):
        if targets[n % len(targets)] is None:
            race(n)
    for thread in threads:
        thread.join(15)
    sandbox.gateway.settle()
    assert sandbox.gateway.owners == ["+905551234567"]
    done = [answer for answer in answers if answer is not None]
    assert len(done) == 10
    assert [a.body for a in done].count({"success": True}) == 1
    for answer in done:
        if answer.status == 409:
            assert answer.code == "in_progress"
            assert int(answer.headers["Retry-After"]) > 0
        else:
            assert (answer.status, answer.body) in ((200, {"success": True}), (200, EXISTING))
    # Every sender told to come back gets the existing answer when it does.
    for n, answer in enumerate(answers):
        if answer is not None and answer.status == 409:
            assert (send(requests[n]).status, send(requests[n]).body) == (200, EXISTING)
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.fixture
def queued(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    yield sandbox
    sandbox.gateway.chaos(0, [], seed=0)


def _handled(logs: Logs) -> list[str]:
    return [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"]


def test_a_queued_phone_and_another_delivery_of_it_meanwhile_make_one_owner(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.chaos(1.0, [Fault(status=503, retry_after=30)], seed=1)
    first = send(senders.request("jotform", delivery_id="queued-first"))
    second = send(senders.request("zapier", "+90 555 123 45 67", delivery_id="queued-second"))
    assert first.body == second.body == {"success": True, "queued": True}  # both queued: no owner yet
    queued.gateway.chaos(0, [], seed=0)
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567"]
    assert sorted(_handled(logs)) == ["drained", "phone_existing"]
    # And later deliveries of the phone know it.
    assert send(senders.request("tally", delivery_id="after")).body == EXISTING


def test_a_dead_lettered_phone_is_not_lost_and_its_redrive_creates_no_second_owner(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.chaos(1.0, [Fault(status=500)], seed=2)
    assert send(senders.request("jotform", delivery_id="dead")).body == {"success": True, "queued": True}
    for _ in range(LOCAL_MAX_RECEIVE_COUNT + 1):
        queue.poll_once(queued.aws, queued.queue_url, forwarder)
    assert queue.depth(queued.aws, queued.dead_letter_url) == 1
    queued.gateway.chaos(0, [], seed=0)
    # Meanwhile the person signs up again: the gateway is back, the phone had no owner, so it is created.
    assert send(senders.request("typeform", delivery_id="again")).body == {"success": True}
    # The operator redrives the dead letters: the message finds the owner and is dropped.
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567"]
    assert _handled(logs)[-1] == "phone_existing"
    assert queue.depth(queued.aws, queued.queue_url) == queue.depth(queued.aws, queued.dead_letter_url) == 0


def test_a_dead_lettered_phone_alone_is_created_when_redriven(queued: Sandbox) -> None:
    queued.gateway.chaos(1.0, [Fault(status=500)], seed=3)
    send(senders.request("zapier", delivery_id="alone"))
    for _ in range(LOCAL_MAX_RECEIVE_COUNT + 1):
        queue.poll_once(queued.aws, queued.queue_url, forwarder)
    queued.gateway.chaos(0, [], seed=0)
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("source", [s for s in senders.SOURCES if PRESETS[s].get("delivery_id")])  # ids to reuse
@pytest.mark.parametrize("phone_memory", ["on", "off"])
def test_a_reused_delivery_id_never_swallows_a_signup(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    logs: Logs,
    capsys: pytest.CaptureFixture[str],
    source: str,
    phone_memory: str,
) -> None:
    if phone_memory == "off":
        monkeypatch.setenv("PHONE_DEDUPLICATION_SECONDS", "0")
    assert send(senders.request(source, "0555 123 45 67", delivery_id="k1")).status == 200
    capsys.readouterr()
    answer = send(senders.request(source, "0555 765 43 21", delivery_id="k1"))
    assert (answer.status, answer.body) == (200, {"success": True})
    assert sandbox.gateway.owners == ["+905551234567", "+905557654321"]  # forwarded: the new signup it is
    assert logs()[-1]["outcome"] == "owner_created"
    assert logs()[-1]["delivery_id_reused"] is True
    assert _counted(capsys.readouterr().out, "DeliveryIdReused") == 1
    # The first phone under that id again is still its replay, and the second one's too.
    assert send(senders.request(source, "0555 123 45 67", delivery_id="k1")).body == {"success": True}
    assert send(senders.request(source, "0555 765 43 21", delivery_id="k1")).body == {"success": True}
    assert len(sandbox.gateway.received) == 2


def test_a_reused_delivery_id_is_counted_by_the_forwarder_too(queued: Sandbox, logs: Logs) -> None:
    assert send(senders.request("zapier", "0555 123 45 67", delivery_id="k2")).status == 200
    queued.gateway.inject(Fault(status=503, retry_after=30))
    assert send(senders.request("zapier", "0555 765 43 21", delivery_id="k2")).body == {
        "success": True,
        "queued": True,
    }
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567", "+905557654321"]


@pytest.mark.parametrize("where", ["webhook", "forwarder"])
def test_an_ambiguous_forward_that_is_queued_is_counted_as_a_possible_duplicate(
    queued: Sandbox, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    queued.gateway.inject(Fault(create_first=True) if where == "webhook" else Fault(status=503, retry_after=30))
    assert send(senders.request("jotform", delivery_id="maybe")).body == {"success": True, "queued": True}
    if where == "forwarder":
        queued.gateway.inject(Fault(create_first=True))
    queue.drain(queued.aws, queued.queue_url, forwarder)
    duplicates = len(queued.gateway.owners) - 1
    assert duplicates == 1  # the gateway created the owner twice: once unanswered, once for the retry
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == duplicates


def test_a_recording_failure_after_the_gateways_200_tells_the_truth_and_is_counted(
    sandbox: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.aws.fail_next(UPDATE_ITEM)  # the write that stores the answer, after the gateway's 200
    answer = send(senders.request("tally", delivery_id="unrecorded"))
    assert (answer.status, answer.body) == (200, {"success": True})  # the owner exists
    assert sandbox.gateway.owners == ["+905551234567"]
    assert logs()[-1]["outcome"] == "owner_created_unrecorded"
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 1  # with the possible duplicates


def test_a_recording_failure_in_the_forwarder_drops_the_message_and_is_counted(
    queued: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    queued.gateway.inject(Fault(status=503, retry_after=30))
    assert send(senders.request("jotform", delivery_id="forwarder-unrecorded")).body["queued"] is True
    queued.aws.fail_next(UPDATE_ITEM)
    capsys.readouterr()
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)  # not retried: the owner exists
    assert queue.drain(queued.aws, queued.queue_url, forwarder) == 0
    assert queued.gateway.owners == ["+905551234567"]
    assert _handled(logs) == ["owner_created_unrecorded"]
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 1


SQS_SEND = "AmazonSQS.SendMessage"
FAULTS: dict[str, tuple[Fault | None, list[str]]] = {
    # name: (the gateway's fault, the AWS calls that hang)
    "read timeout, then SQS hangs": (Fault(delay=12), [SQS_SEND]),
    "read timeout, SQS and the record's delete hang": (Fault(delay=12), [SQS_SEND, "DynamoDB_20120810.DeleteItem"]),
    "503, then SQS hangs": (Fault(status=503), [SQS_SEND]),
    "200, then storing the answer hangs": (None, [UPDATE_ITEM]),
    "Secrets Manager hangs": (None, ["secretsmanager.GetSecretValue"]),
    "the deduplication table hangs": (None, ["DynamoDB_20120810.PutItem"]),
}
# name: (the gateway's fault, the AWS calls that hang, after letting how many of each through)
LATER_FAULTS: dict[str, tuple[Fault | None, list[str], int]] = {
    "the delivery id's note hangs, then a 503, SQS and the delete hang": (
        Fault(status=503),
        ["DynamoDB_20120810.PutItem", SQS_SEND, "DynamoDB_20120810.DeleteItem"],
        1,  # the phone's claim passes; its note is the second PutItem
    ),
}


@pytest.mark.parametrize(
    ("fault", "timeout"),
    [(fault, 4.0) for fault in sorted(FAULTS)] + [("read timeout, then SQS hangs", 10.0)],  # 10: as deployed
)
def test_every_fault_combination_is_answered_before_the_function_times_out(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch, fault: str, timeout: float
) -> None:
    gateway_fault, hanging = FAULTS[fault]
    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")  # so that the secret is read inside the request
    if gateway_fault:
        queued.gateway.inject(gateway_fault)
    for target in hanging:
        queued.aws.fail_next(target, after=3)  # past every AWS client's read timeout
    context = LocalContext(timeout_seconds=timeout)
    from owner_webhook.handler import lambda_handler

    result = lambda_handler(http_api_event(senders.request("zapier", delivery_id=f"budget-{timeout}")), context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the function's timeout"
    assert result["statusCode"] in (200, 503)
    assert len(queued.gateway.received) <= 1


@pytest.mark.parametrize("timeout", [3.0, 4.0])
@pytest.mark.parametrize("fault", sorted(LATER_FAULTS))
def test_a_hang_after_the_claim_still_answers_before_the_function_times_out(
    queued: Sandbox, fault: str, timeout: float
) -> None:
    gateway_fault, hanging, skip = LATER_FAULTS[fault]
    assert send(senders.request("zapier", "0555 000 00 00", delivery_id="warm-up")).status == 200
    if gateway_fault:
        queued.gateway.inject(gateway_fault)
    for target in hanging:
        queued.aws.fail_next(target, after=3, skip=skip if target.endswith("PutItem") else 0)
    context = LocalContext(timeout_seconds=timeout)
    from owner_webhook.handler import lambda_handler

    result = lambda_handler(http_api_event(senders.request("zapier", delivery_id=f"late-{timeout}")), context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the function's timeout"
    assert result["statusCode"] == 503


def test_an_ambiguous_forward_whose_record_cannot_be_deleted_is_still_counted(
    sandbox: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.gateway.inject(Fault(create_first=True))  # created, then the connection dropped
    sandbox.aws.fail_next("DynamoDB_20120810.DeleteItem")  # and the record cannot be deleted
    answer = send(senders.request("zapier", delivery_id="maybe-kept"))
    assert (answer.status, answer.code) == (503, "upstream_ambiguous")  # what happened, not the table
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 1


def test_a_refused_key_near_the_end_of_the_forward_is_not_read_again_past_the_time(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert send(senders.request("zapier", "0555 000 00 00", delivery_id="warm-up")).status == 200  # key cached
    queued.gateway.accepted_keys = {"rotated-key"}
    queued.gateway.inject(Fault(status=401, delay=2.4))  # a 401 just before the forward's time is up
    queued.aws.fail_next("secretsmanager.GetSecretValue", after=3)  # the fresh read would hang
    queued.aws.fail_next("DynamoDB_20120810.DeleteItem", after=3)  # and so would the record's delete
    context = LocalContext(timeout_seconds=6)
    from owner_webhook.handler import lambda_handler

    result = lambda_handler(http_api_event(senders.request("zapier", delivery_id="late-401")), context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the function's timeout"
    assert result["statusCode"] in (200, 503)


def test_a_gateway_call_that_cannot_finish_in_time_is_not_sent(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    monkeypatch.setenv("FORWARD_BUDGET_SECONDS", "1")
    assert send(senders.request("zapier", "0555 000 00 00", delivery_id="warm-up")).status == 200
    # A slow table before the forward (the delivery id's note hangs past its 1 s read timeout) leaves
    # less of the 1 s budget than a safe call to the gateway needs.
    sandbox.aws.fail_next("DynamoDB_20120810.PutItem", after=3, skip=1)
    answer = send(senders.request("zapier", delivery_id="no-time"))
    assert (answer.status, answer.code) == (503, "out_of_time")
    assert "Retry-After" in answer.headers
    assert len(sandbox.gateway.received) == 1  # the warm-up's only
    assert logs()[-1]["gateway_attempts"] == 0
    assert send(senders.request("zapier", delivery_id="no-time")).status == 200
