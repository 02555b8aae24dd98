"""The webhook forwards through the forwarder function, the only code that calls the gateway
(docs/guarantees.md, "A burst"): over Lambda's Invoke API (the stand-in, sandbox/lambda_service.py),
to a forwarder instance in its own process; beyond the gateway's ceiling, and whenever the forwarder
cannot answer, the delivery is queued."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.lambda_service import FunctionConfig, LocalLambda
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event
from tests.integration.test_phone_identity import _counted

Logs = Callable[[], list[dict[str, Any]]]
FORWARDER = "owner_webhook.forwarder.lambda_handler"
HANDLERS = "tests.integration.lambda_handlers"
# As the template sets it on the forwarder (one instance here), with a rate the tests never reach, and an
# abandoned call assumed over after 2 s (the stand-in's timeout is 10 s, the template's 60 s).
CEILING = {"GATEWAY_CONCURRENCY": "1", "GATEWAY_RATE_PER_SECOND": "1000", "GATEWAY_ABANDONED_CALL_SECONDS": "2"}
# Short reads: a Retry-After of 1 s leaves time for another whole attempt within the forward, and a
# gateway 2.5 s late is cut.
SHORT_READS = {**CEILING, "GATEWAY_READ_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def service(sandbox: Sandbox) -> Iterator[LocalLambda]:
    with LocalLambda(
        FunctionConfig("forwarder", FORWARDER, 1, environment=CEILING),
        FunctionConfig("paused-forwarder", FORWARDER, 1, environment=CEILING),
        FunctionConfig("crashing-forwarder", f"{HANDLERS}.crash", 1),
        FunctionConfig("briefly-paused-forwarder", FORWARDER, 1, environment=SHORT_READS),
        FunctionConfig("slow-forwarder", FORWARDER, 1, environment=SHORT_READS),
        FunctionConfig("buggy-forwarder", f"{HANDLERS}.forwarder_with_a_bug", 1, environment=CEILING),
        FunctionConfig("hanging-forwarder", f"{HANDLERS}.hang", 1, timeout=6),
        FunctionConfig("another-hanging-forwarder", f"{HANDLERS}.hang", 1, timeout=6),
    ) as running:
        yield running


@pytest.fixture
def through(sandbox: Sandbox, service: LocalLambda, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """The webhook (in this process) with the retry queue, forwarding through the named function."""
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    for name, value in service.environment().items():
        monkeypatch.setenv(name, value)
    return lambda function: monkeypatch.setenv("FORWARDER_FUNCTION", function)


def send(source: str, phone: str, delivery_id: str | None = None) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


def answered(logs: Logs) -> list[dict[str, Any]]:
    return [line for line in logs() if line["message"] == "webhook answered"]


def test_a_delivery_is_forwarded_by_the_forwarder_and_answered_as_it_ended(
    sandbox: Sandbox, service: LocalLambda, through: Callable[[str], None], logs: Logs
) -> None:
    through("forwarder")
    invocations = len(service.functions["forwarder"].invocations)
    assert (send("zapier", "0555 200 00 01").status, send("jotform", "0555 200 00 01").body) == (
        200,
        {"success": True, "existing": True},
    )
    assert [r.phone for r in sandbox.gateway.received] == ["+905552000001"]
    assert len(service.functions["forwarder"].invocations) == invocations + 2
    first, second = answered(logs)
    assert (first["outcome"], first["gateway_status"], first["phone"]) == ("owner_created", 200, "+90555*****01")
    assert second["outcome"] == "phone_existing"
    # The invocation as the webhook waited for it: the forwarder's own time and the hop, within the request's.
    forwarder_ms = service.functions["forwarder"].invocations[-2].duration_ms
    assert forwarder_ms < first["forwarder_latency_ms"] < first["total_ms"]


@pytest.mark.parametrize(("source", "status", "body_success"), [("zapier", 422, False), ("jotform", 200, False)])
def test_a_refusal_of_the_gateway_reaches_the_sender_as_without_the_forwarder(
    sandbox: Sandbox, through: Callable[[str], None], source: str, status: int, body_success: bool
) -> None:
    through("forwarder")
    sandbox.gateway.rejected_phones.add("+905552000002")
    answer = send(source, "0555 200 00 02")
    assert (answer.status, answer.body["success"], answer.code) == (status, body_success, "rejected_phone")


@pytest.mark.parametrize("source", ["typeform", "jotform"])  # one that retries, one that never does
def test_beyond_the_ceiling_a_delivery_is_taken_and_queued(
    sandbox: Sandbox, service: LocalLambda, through: Callable[[str], None], logs: Logs, source: str
) -> None:
    through("forwarder")
    function = service.functions["forwarder"]
    instance = function.acquire()  # the one instance is busy: the ceiling is reached
    assert instance is not None
    try:
        answer = send(source, "0555 200 00 03")
    finally:
        function.release(instance)
    assert (answer.status, answer.body) == (200, {"success": True, "queued": True})
    assert sandbox.gateway.received == []
    [line] = answered(logs)
    assert line["queued_because"] == "at_ceiling"
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 1


def test_a_forwarder_the_gateway_asked_to_wait_refuses_at_once_and_the_delivery_is_queued(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs
) -> None:
    through("paused-forwarder")
    sandbox.gateway.inject(Fault(status=429, retry_after=30))
    assert send("zapier", "0555 200 00 04").body == {"success": True, "queued": True}
    assert send("zapier", "0555 200 00 05").body == {"success": True, "queued": True}
    assert len(sandbox.gateway.received) == 1  # the second was not sent: its forwarder waits 30 s
    first, second = answered(logs)
    assert (first["queued_because"], first["gateway_status"]) == ("upstream_unavailable", 429)
    assert second["queued_because"] == "at_ceiling"
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 2


def test_a_short_retry_after_is_not_retried_within_the_forward_but_waited_by_the_whole_instance(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs
) -> None:
    # Unpaced, a 429 whose Retry-After leaves time is tried again within the request; paced, that second
    # call would come in no turn of the instance's pace: the pause replaces it.
    through("briefly-paused-forwarder")
    sandbox.gateway.inject(Fault(status=429, retry_after=1))
    assert send("zapier", "0555 200 00 09").body == {"success": True, "queued": True}
    assert send("zapier", "0555 200 00 10").body == {"success": True, "queued": True}
    assert [r.phone for r in sandbox.gateway.received] == ["+905552000009"]  # once: no retry, and paused
    first, second = answered(logs)
    assert (first["queued_because"], first["gateway_attempts"]) == ("upstream_unavailable", 1)
    assert second["queued_because"] == "at_ceiling"


def test_a_gateway_that_does_not_answer_in_time_holds_the_instance_until_the_call_is_assumed_over(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs
) -> None:
    # The cut call may still be running at the gateway: the instance keeps its place in the ceiling (its
    # invocation does not end) and calls nothing until the call is assumed over, 2 s after the cut here.
    through("slow-forwarder")
    sandbox.gateway.inject(Fault(delay=2.5))
    started = time.monotonic()
    assert send("zapier", "0555 200 00 11").body == {"success": True, "queued": True}
    assert time.monotonic() - started >= 1 + 2  # the read timeout, then the hold
    assert send("zapier", "0555 200 00 12").body == {"success": True}  # the held call is over by now
    sandbox.gateway.settle()
    assert [r.phone for r in sandbox.gateway.received] == ["+905552000011", "+905552000012"]
    assert sandbox.gateway.peak_in_flight == 1  # the second call began after the first had ended
    first, second = answered(logs)
    assert (first["queued_because"], first["gateway_status"]) == ("upstream_ambiguous", "abandoned")
    assert second["outcome"] == "owner_created"


def test_a_forwarder_that_fails_before_answering_is_a_possible_duplicate_and_queued(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs
) -> None:
    through("crashing-forwarder")
    assert send("jotform", "0555 200 00 06").body == {"success": True, "queued": True}
    [line] = answered(logs)
    assert (line["queued_because"], line["forwarder_error"]) == ("upstream_ambiguous", "function_error")
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 1


def test_a_bug_in_the_forwarder_after_the_gateway_answered_is_a_possible_duplicate_and_queued(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    through("buggy-forwarder")
    assert send("jotform", "0555 200 00 08").body == {"success": True, "queued": True}
    assert [r.phone for r in sandbox.gateway.received] == ["+905552000008"]  # the owner was created
    [line] = answered(logs)
    assert (line["queued_because"], line["error_type"]) == ("upstream_ambiguous", "KeyError")
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 1  # a possible duplicate, counted
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 1


# The forward's deadline is its budget, or what the invocation's time leaves of it before the queue's reserve
# (each case its own function: a hanging instance stays busy until its timeout).
@pytest.mark.parametrize(
    ("function", "budget", "seconds_left"),
    [("hanging-forwarder", "1.5", 10.0), ("another-hanging-forwarder", "8", 4.0)],
)
def test_a_forwarder_that_does_not_answer_in_time_leaves_time_to_queue(
    sandbox: Sandbox,
    through: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    logs: Logs,
    function: str,
    budget: str,
    seconds_left: float,
) -> None:
    through(function)
    monkeypatch.setenv("FORWARD_BUDGET_SECONDS", budget)
    started = time.monotonic()
    request = senders.request("zapier", "0555 200 00 07")
    assert invoke_event(http_api_event(request), timeout=seconds_left).body == {"success": True, "queued": True}
    assert time.monotonic() - started < 3.5
    [line] = answered(logs)
    assert line["queued_because"] == "upstream_ambiguous"


def test_one_lambda_client_forwards_whatever_the_time_left(
    sandbox: Sandbox, through: Callable[[str], None], service: LocalLambda
) -> None:
    through("forwarder")
    before = service.connections
    for n, seconds_left in enumerate((10.0, 9.3, 8.6, 7.9)):  # each forward's deadline in another tenth
        request = senders.request("zapier", f"0555 200 01 0{n}")
        assert invoke_event(http_api_event(request), timeout=seconds_left).status == 200
    assert len(sandbox.gateway.received) == 4
    assert service.connections - before == 1  # one client: its one connection, kept alive


@pytest.mark.parametrize(("queue_on", "status"), [(True, 200), (False, 503)])
def test_a_forwarder_that_cannot_be_invoked_is_not_a_lost_signup(
    sandbox: Sandbox,
    through: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    logs: Logs,
    queue_on: bool,
    status: int,
) -> None:
    through("no-such-function")
    if not queue_on:
        monkeypatch.delenv("RETRY_QUEUE_URL")
    answer = send("typeform", "0555 200 00 08")
    assert answer.status == status
    if queue_on:
        assert answered(logs)[0]["queued_because"] == "forwarder_unavailable"
    else:  # the sender retries (Typeform does, for hours)
        assert (answer.code, answer.headers["Retry-After"]) == ("forwarder_unavailable", "60")
        assert answered(logs)[0]["forwarder_error"] == "ResourceNotFoundException"
    assert sandbox.gateway.received == []


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault(status=201), 200, "owner_created"),
        (Fault(status=204), 200, "owner_created"),
        (Fault(status=409), 422, "rejected_phone"),
        (Fault(status=404), 200, "upstream_misdirected"),  # queued
        (Fault(status=308, location="https://elsewhere.example/owner"), 200, "upstream_misdirected"),
    ],
    ids=["201", "204", "409", "404", "308"],
)
def test_each_class_of_gateway_answer_reaches_the_webhook_through_the_forwarder(
    sandbox: Sandbox, through: Callable[[str], None], logs: Logs, fault: Fault, status: int, code: str
) -> None:
    """docs/answers.md, "The gateway's answers", as deployed: the forwarder's answer, the webhook's status."""
    through("forwarder")
    sandbox.gateway.inject(fault)
    answer = send("zapier", "0555 200 00 13")
    [line] = answered(logs)
    assert answer.status == status and line["gateway_status"] == fault.status
    assert line.get("queued_because", line["outcome"]) == code
    assert len(sandbox.gateway.owners) == (code == "owner_created")
    assert queue.depth(sandbox.aws, sandbox.queue_url) == (code == "upstream_misdirected")
