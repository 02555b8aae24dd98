"""The retry queue (docs/guarantees.md, "The retry queue"): outages absorbed, one owner each, dead
letters and redrive."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from owner_webhook import wiring
from sandbox import queue, senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import LOCAL_MAX_RECEIVE_COUNT, Sandbox
from tests.integration.conftest import Answer, invoke_event
from tests.integration.test_metrics import _emf, _names

Logs = Callable[[], list[dict[str, Any]]]
OUTAGE = [Fault(status=503, retry_after=30), Fault(status=500), Fault(reset=True), Fault(status=429, retry_after=30)]


@pytest.fixture
def queued(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The function with the retry queue configured, as the template deploys it."""
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    yield sandbox
    sandbox.gateway.chaos(0, [], seed=0)


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


def send(source: str, phone: str = "0555 123 45 67", delivery_id: str | None = None) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


def test_an_outage_is_absorbed_for_every_source(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.chaos(1.0, OUTAGE, seed=1)
    phones = {source: f"0555 123 45 {n:02d}" for n, source in enumerate(senders.SOURCES)}
    answers = {source: send(source, phone) for source, phone in phones.items()}
    assert {s: (a.status, a.body) for s, a in answers.items()} == {
        s: (200, {"success": True, "queued": True}) for s in senders.SOURCES
    }
    assert queue.depth(queued.aws, queued.queue_url) == len(senders.SOURCES)
    batch = min(10, len(senders.SOURCES))  # one batch of the event source mapping's size at most
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (batch, batch)  # still down: every one waits
    queued.gateway.chaos(0, [], seed=0)  # the gateway recovers
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert sorted(queued.gateway.owners) == sorted(f"+9055512345{n:02d}" for n in range(len(senders.SOURCES)))
    assert queue.depth(queued.aws, queued.queue_url) == queue.depth(queued.aws, queued.dead_letter_url) == 0
    text = json.dumps(logs())
    assert "5551234500" not in text  # the forwarder logs masked phones only, as the webhook does
    assert {line["outcome"] for line in logs() if line["message"] == "queued delivery handled"} == {
        "retry_later",
        "drained",
    }


def test_the_message_holds_the_normalized_delivery_and_nothing_else(queued: Sandbox) -> None:
    queued.gateway.inject(Fault(status=503, retry_after=30))
    send("tally", "0555 123 45 67", delivery_id="evt-queued")
    [message] = queued.aws.client("sqs").receive_message(QueueUrl=queued.queue_url)["Messages"]
    body = json.loads(message["Body"])
    assert set(body) == {"source", "delivery_id", "phone", "received_at"}
    assert (body["source"], body["delivery_id"], body["phone"]) == ("tally", "evt-queued", "+905551234567")


def test_a_message_delivered_twice_creates_one_owner(queued: Sandbox) -> None:
    queued.gateway.inject(Fault(status=502))
    send("zapier", delivery_id="twice")
    sqs = queued.aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=queued.queue_url, VisibilityTimeout=0)["Messages"]
    sqs.send_message(QueueUrl=queued.queue_url, MessageBody=message["Body"])  # SQS's at-least-once
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567"]
    assert queue.depth(queued.aws, queued.queue_url) == 0


def test_a_sender_retry_racing_the_forwarder_creates_one_owner(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.inject(Fault(status=503, retry_after=30), Fault(status=503, retry_after=30))
    request = senders.request("typeform", delivery_id="race-forwarder")
    assert invoke_event(http_api_event(request)).body == {"success": True, "queued": True}
    # The sender did not see the answer and retries: still down (queued again), then up (forwarded).
    assert invoke_event(http_api_event(request)).body == {"success": True, "queued": True}
    assert invoke_event(http_api_event(request)).body == {"success": True}
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert invoke_event(http_api_event(request)).body == {"success": True}  # replayed
    assert queued.gateway.owners == ["+905551234567"]
    handled = [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"]
    assert handled == ["duplicate_replayed", "duplicate_replayed"]  # both messages: the owner exists


def test_a_message_that_keeps_failing_is_dead_lettered_then_redriven_and_drained(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.chaos(1.0, [Fault(status=500)], seed=2)
    send("jotform", delivery_id="dead-1")
    for _ in range(LOCAL_MAX_RECEIVE_COUNT + 1):
        queue.poll_once(queued.aws, queued.queue_url, forwarder)
    assert queue.depth(queued.aws, queued.queue_url) == 0
    assert queue.depth(queued.aws, queued.dead_letter_url) == 1
    outcomes = [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"]
    assert outcomes == ["retry_later"] * (LOCAL_MAX_RECEIVE_COUNT - 1) + ["dead_lettered"]
    queued.gateway.chaos(0, [], seed=0)  # the cause is fixed
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234567"]
    assert queue.depth(queued.aws, queued.dead_letter_url) == queue.depth(queued.aws, queued.queue_url) == 0


def test_a_phone_the_gateway_refuses_is_dropped_not_retried(queued: Sandbox, logs: Logs) -> None:
    queued.gateway.inject(Fault(status=503, retry_after=30))
    send("generic", delivery_id="refused-later")
    queued.gateway.rejected_phones.add("+905551234567")
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)
    assert queue.depth(queued.aws, queued.queue_url) == 0
    assert [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"] == ["rejected_phone"]
    assert queued.gateway.owners == []


def test_a_message_with_a_time_too_large_for_a_float_is_dropped(queued: Sandbox, logs: Logs) -> None:
    body = json.dumps({"source": "zapier", "delivery_id": "d1", "phone": "+905551234567", "received_at": 10**400})
    queued.aws.client("sqs").send_message(QueueUrl=queued.queue_url, MessageBody=body)
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)  # handled, not retried
    assert [line["outcome"] for line in logs()] == ["malformed_message"]
    assert queued.gateway.received == []


def test_a_message_not_written_by_the_function_is_dropped(queued: Sandbox) -> None:
    queued.aws.client("sqs").send_message(QueueUrl=queued.queue_url, MessageBody='{"phone": "0555"}')
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)
    assert queued.gateway.received == []


def test_the_queue_unreachable_is_503_and_never_success(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch, closed_port: int, logs: Logs
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{closed_port}")
    queued.gateway.inject(Fault(status=503, retry_after=30))
    answer = send("jotform")
    assert (answer.status, answer.code, answer.headers["Retry-After"]) == (503, "upstream_unavailable", "30")
    assert logs()[-1]["retry_queue"] == "unavailable"  # the log line says why it was not queued
    # Not stored as final: the sender's retry is forwarded (and succeeds now).
    assert send("jotform").status == 200


def test_queue_sources_chooses_who_is_queued(queued: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_SOURCES", "jotform,zapier")
    queued.gateway.chaos(1.0, [Fault(status=500)], seed=3)
    assert send("zapier").code == "queued"
    assert send("typeform").status == 503  # Typeform retries for 10 hours by itself
    monkeypatch.setenv("QUEUE_SOURCES", "none")
    from owner_webhook import wiring

    wiring.parts.cache_clear()
    assert send("jotform", "05551234568").status == 503


def test_without_a_queue_a_transient_failure_is_503(sandbox: Sandbox) -> None:
    sandbox.gateway.inject(Fault(status=500))
    assert send("jotform").status == 503
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 0


def test_the_forwarder_event_in_events_is_drained(sandbox: Sandbox) -> None:
    from sandbox.events import LocalContext
    from tests.conftest import EVENTS

    event = json.loads((EVENTS / "forwarder" / "retry-batch.json").read_text())
    assert forwarder(event, LocalContext()) == {"batchItemFailures": []}
    assert sandbox.gateway.owners == ["+905557654321"]


GOOD = {"source": "zapier", "delivery_id": "d-1", "phone": "+905551234567", "received_at": 1795000000.0}
MALFORMED = {
    "256,000 brackets": "[" * 256_000,
    "not an object": '["zapier", "d-1", "+905551234567", 1]',
    "received_at nan": json.dumps({**GOOD, "received_at": "nan"}),
    "received_at inf": json.dumps({**GOOD, "received_at": "inf"}),
    "received_at NaN literal": json.dumps({**GOOD, "received_at": float("nan")}),
    "received_at Infinity literal": json.dumps({**GOOD, "received_at": float("inf")}),
    "received_at true": json.dumps({**GOOD, "received_at": True}),
    "a source no route could be named": json.dumps({**GOOD, "source": "../zapier"}),
    "a source over the metric limit": json.dumps({**GOOD, "source": "z" * 2000}),
    "a source that is not text": json.dumps({**GOOD, "source": ["zapier"]}),
    "no delivery id": json.dumps({**GOOD, "delivery_id": ""}),
    "a delivery id that is not text": json.dumps({**GOOD, "delivery_id": 7}),
    "a national phone": json.dumps({**GOOD, "phone": "05551234567"}),
    "an invalid phone": json.dumps({**GOOD, "phone": "+90555"}),
    "a phone with spaces": json.dumps({**GOOD, "phone": "+90 555 123 45 67"}),
    "a phone that is a number": json.dumps({**GOOD, "phone": 905551234567}),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_message_the_forwarder_cannot_read_is_logged_counted_and_dropped(
    queued: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    queued.aws.client("sqs").send_message(QueueUrl=queued.queue_url, MessageBody=body)
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)  # not retried
    assert queue.depth(queued.aws, queued.queue_url) == queue.depth(queued.aws, queued.dead_letter_url) == 0
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert (line["outcome"], line["status"]) == ("malformed_message", 400)
    assert line["problem"].startswith("the message")
    assert "source" not in line and "delivery_id" not in line and "phone" not in line
    emf = [json.loads(out) for out in capsys.readouterr().out.splitlines() if out.startswith('{"_aws"')]
    assert [(r["source"], r.get("MalformedRequest")) for r in emf] == [("unknown", [1.0])]
    assert queued.gateway.received == []


@pytest.mark.parametrize("delivery_id", ["+905551234567", "x" * 10_000, "line\nbreak"])
def test_a_queued_delivery_id_is_bounded_as_in_the_webhook(queued: Sandbox, logs: Logs, delivery_id: str) -> None:
    message = json.dumps({**GOOD, "delivery_id": delivery_id})
    queued.aws.client("sqs").send_message(QueueUrl=queued.queue_url, MessageBody=message)
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 0)
    assert queued.gateway.owners == ["+905551234567"]  # a message this function may have written: delivered
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert line["outcome"] == "drained"
    assert line["delivery_id"].startswith("hmac:")
    assert "5551234567" not in json.dumps(line)


def test_a_delivery_queued_before_its_recipe_was_renamed_is_still_forwarded(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """docs/senders.md, recipes: the queue holds the phone already read; a deploy that renames or removes a
    recipe loses none of the deliveries its route queued meanwhile."""
    from owner_webhook import sources
    from sandbox.aws import LOCAL_SECRET
    from sandbox.stack import new_instance
    from tests.integration.conftest import webhook

    recipe = {"credential": {"token": "header:X-Signup-Token"}, "phone": ["telephone"], "retries": False}
    (tmp_path / "signup-form.json").write_text(json.dumps(recipe))
    monkeypatch.setattr(sources, "RECIPES", tmp_path)
    queued.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "signup-form": "t"}})
    new_instance()
    queued.gateway.chaos(1.0, [Fault(status=503, retry_after=30)], seed=0)
    got = webhook("signup-form", {"telephone": "0555 123 45 91"}, token=None, headers={"X-Signup-Token": "t"})
    assert got.body == {"success": True, "queued": True}
    (tmp_path / "signup-form.json").rename(tmp_path / "signups.json")  # the next version's name for it
    new_instance()
    queued.gateway.chaos(0, [], seed=0)
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == ["+905551234591"]
    assert queue.depth(queued.aws, queued.dead_letter_url) == 0


def _wrong_region(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "Turkey")


def _malformed_secret(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.aws.put_secret('["not", "an", "object"]')


@pytest.mark.parametrize(
    ("deployed_wrong", "failure", "problem"),
    [(_wrong_region, "invalid_setting", "DEFAULT_PHONE_REGION"), (_malformed_secret, "secret_malformed", "JSON")],
)
def test_a_forwarder_deployed_wrong_keeps_each_message_and_says_what_to_fix(
    queued: Sandbox,
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deployed_wrong: Callable[[Sandbox, pytest.MonkeyPatch], None],
    failure: str,
    problem: str,
) -> None:
    queued.gateway.inject(Fault(status=503, retry_after=30))
    assert send("zapier").body == {"success": True, "queued": True}
    queued.gateway.reset()
    deployed_wrong(queued, monkeypatch)
    wiring.parts.cache_clear()  # the forwarder's new instance, deployed so
    capsys.readouterr()
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 1)  # failed: SQS delivers it again
    assert queue.depth(queued.aws, queued.queue_url) == 1
    assert queued.gateway.received == []
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert (line["outcome"], line["failure"], line["source"]) == ("retry_later", failure, "zapier")
    assert problem in line["problem"]
    counted = set(_names(_emf(capsys.readouterr().out)))
    assert {"RetryLater", "ConfigurationError"} <= counted
    assert "InternalError" not in counted
