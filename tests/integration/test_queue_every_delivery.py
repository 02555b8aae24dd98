"""QueueEveryDelivery=true (docs/deployment.md, "A new account: the Lambda concurrency quota"; docs/answers.md):
with no reserved concurrency, the webhook queues every authenticated delivery with a valid phone, and the
forwarder forwards each from the queue: no owner lost or doubled, the gateway's refusal found by the forwarder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import LocalContext, http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event

Logs = Callable[[], list[dict[str, Any]]]
QUEUED = {"success": True, "queued": True}


@pytest.fixture
def queue_only(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The webhook as the template deploys it with QueueEveryDelivery=true (FORWARDER_FUNCTION still set:
    a function no one can invoke here, so a webhook that invoked it would log forwarder_unavailable)."""
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    monkeypatch.setenv("QUEUE_EVERY_DELIVERY", "true")
    monkeypatch.setenv("FORWARDER_FUNCTION", "no-such-forwarder")
    yield sandbox
    sandbox.gateway.chaos(0, [], seed=0)


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


def send(source: str, phone: str, delivery_id: str | None = None) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


def handled(logs: Logs, message: str) -> list[dict[str, Any]]:
    return [line for line in logs() if line["message"] == message]


def test_every_delivery_is_queued_and_each_owner_created_once(queue_only: Sandbox, logs: Logs) -> None:
    deliveries = [
        ("zapier", "0555 300 00 01", "a"),
        ("jotform", "+90 555 300 00 01", "b"),  # the same phone, another sender
        ("typeform", "0555 300 00 02", "c"),
        ("typeform", "0555 300 00 02", "c"),  # the same delivery again
        ("tally", "0555 300 00 03", "d"),
    ]
    answers = [send(source, phone, delivery) for source, phone, delivery in deliveries]
    assert [(a.status, a.body) for a in answers] == [(200, QUEUED)] * len(deliveries)
    assert queue_only.gateway.received == []  # the webhook forwards nothing itself
    assert queue.depth(queue_only.aws, queue_only.queue_url) == len(deliveries)
    webhook = handled(logs, "webhook answered")
    assert {(line["outcome"], line["queued_because"]) for line in webhook} == {("queued", "queue_every_delivery")}
    assert not any("forwarder_error" in line for line in webhook)

    queue.drain(queue_only.aws, queue_only.queue_url, forwarder)
    assert sorted(r.phone for r in queue_only.gateway.received) == ["+905553000001", "+905553000002", "+905553000003"]
    assert (
        queue.depth(queue_only.aws, queue_only.queue_url),
        queue.depth(queue_only.aws, queue_only.dead_letter_url),
    ) == (0, 0)
    outcomes = sorted(line["outcome"] for line in handled(logs, "queued delivery handled"))
    assert outcomes == ["drained", "drained", "drained", "duplicate_replayed", "phone_existing"]


def test_with_the_gateway_down_the_queued_delivery_waits_and_is_forwarded_once(queue_only: Sandbox) -> None:
    queue_only.gateway.chaos(1.0, [Fault(status=503, retry_after=30)], seed=0)
    assert send("jotform", "0555 300 00 04").body == QUEUED
    assert queue.poll_once(queue_only.aws, queue_only.queue_url, forwarder) == (1, 1)  # still down: it waits
    queue_only.gateway.chaos(0, [], seed=0)
    queue.drain(queue_only.aws, queue_only.queue_url, forwarder)
    assert queue_only.gateway.owners == ["+905553000004"]
    assert queue.depth(queue_only.aws, queue_only.queue_url) == 0


def test_a_phone_the_gateway_refuses_is_found_by_the_forwarder_logged_and_counted(
    queue_only: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_only.gateway.rejected_phones.add("+905553000005")
    assert send("zapier", "0555 300 00 05").body == QUEUED  # the sender never hears of the refusal
    queue.drain(queue_only.aws, queue_only.queue_url, forwarder)
    (line,) = handled(logs, "queued delivery handled")
    assert (line["outcome"], line["phone"]) == ("rejected_phone", "+90555*****05")
    assert '"PhoneRefused":[1.0]' in capsys.readouterr().out  # the metric (EMF on stdout)
    depths = queue.depth(queue_only.aws, queue_only.queue_url), queue.depth(queue_only.aws, queue_only.dead_letter_url)
    assert depths == (0, 0)  # final: never retried


def test_refusals_of_the_payload_forgeries_and_dry_runs_are_answered_as_always(queue_only: Sandbox) -> None:
    assert send("zapier", "12").status == 422  # not a phone
    forged = senders.request("zapier", "0555 300 00 06", secret="not-the-token")
    assert invoke_event(http_api_event(forged)).status == 401
    dry = senders.request("zapier", "0555 300 00 07")
    answer = invoke_event(
        http_api_event(dry) | {"rawQueryString": "dry_run=1", "queryStringParameters": {"dry_run": "1"}}
    )
    assert (answer.status, answer.body["outcome"]) == (200, "owner_created")
    assert queue.depth(queue_only.aws, queue_only.queue_url) == 0


def test_a_delivery_the_queue_cannot_take_is_a_503_the_sender_retries(
    queue_only: Sandbox, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("RETRY_QUEUE_URL", f"http://127.0.0.1:{closed_port}/123456789012/nowhere")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{closed_port}")
    answer = send("zapier", "0555 300 00 08")
    assert (answer.status, answer.body["error"]["code"], answer.headers["Retry-After"]) == (
        503,
        "retry_queue_unavailable",
        "60",
    )
    assert queue_only.gateway.received == []


def test_a_replayed_refusal_is_queued_never_forwarded_past_the_queues_ceiling(queue_only: Sandbox) -> None:
    """With no reserved concurrency, only the queue's event source (MaximumConcurrency) may forward: a kept
    refusal replayed through the forwarder goes to the retry queue, and is forwarded from there, once."""
    queue_only.gateway.rejected_phones.add("+905553000009")
    assert send("zapier", "0555 300 00 09").body == QUEUED
    queue.drain(queue_only.aws, queue_only.queue_url, forwarder)  # refused there, and kept
    [kept] = queue_only.aws.kept_refusals().values()
    queue_only.gateway.rejected_phones.clear()
    received = len(queue_only.gateway.received)
    answer = forwarder({"replay": kept["body"], "dry_run": False}, LocalContext(timeout_seconds=60))
    assert answer["outcome"] == "queued" and answer["fields"]["queued_because"] == "queue_every_delivery"
    assert len(queue_only.gateway.received) == received  # nothing forwarded by the replay itself
    assert queue.depth(queue_only.aws, queue_only.queue_url) == 1
    queue.drain(queue_only.aws, queue_only.queue_url, forwarder)
    assert queue_only.gateway.owners == ["+905553000009"]
