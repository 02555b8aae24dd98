"""The gateway never has more than GatewayConcurrency of our calls in flight, counting the calls whose
answer we stopped waiting for (docs/guarantees.md, "A burst": a call we stopped waiting for is still in
flight): two forwarder instances (sandbox/lambda_service.py), draining the queue and taking deliveries
from the webhook, against a gateway slower than the read timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from owner_webhook.retry_queue import QueuedDelivery
from sandbox import senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.lambda_service import FunctionConfig, LocalLambda, SqsEventSource
from sandbox.stack import Sandbox
from tests.integration.conftest import invoke_event

CONCURRENCY = 2
# Each call takes 7 s at the gateway; the forwarder stops waiting after 0.5 s, and the call goes on for 6.5 s
# more: longer than the 5 s pause after a call with no answer, shorter than the abandoned call's 7 s.
GATEWAY_SECONDS = 7.0
SLOW = {
    "GATEWAY_CONCURRENCY": str(CONCURRENCY),
    "GATEWAY_RATE_PER_SECOND": "1000",
    "GATEWAY_READ_TIMEOUT": "0.5",
    "GATEWAY_ABANDONED_CALL_SECONDS": "7",
}


@pytest.fixture
def forwarders(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalLambda]:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    config = FunctionConfig("forwarder", "owner_webhook.forwarder.lambda_handler", CONCURRENCY, 20, environment=SLOW)
    with LocalLambda(config) as service:
        for name, value in service.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FORWARDER_FUNCTION", "forwarder")
        yield service
    sandbox.gateway.settle(GATEWAY_SECONDS + 2)


def test_a_call_we_stopped_waiting_for_still_counts_in_flight(sandbox: Sandbox, forwarders: LocalLambda) -> None:
    sandbox.gateway.chaos(1.0, [Fault(delay=GATEWAY_SECONDS)], seed=1)  # every call slow
    sqs = sandbox.aws.client("sqs")
    for n in range(10):
        queued = QueuedDelivery("jotform", f"in-flight-{n}", f"+90555400{n:04d}", time.time())
        sqs.send_message(QueueUrl=sandbox.queue_url, MessageBody=queued.to_json())
    source = SqsEventSource(
        forwarders.functions["forwarder"], sqs, sandbox.queue_url, batch_size=5, maximum_concurrency=CONCURRENCY
    )
    answers = []
    with source:
        ends = time.monotonic() + GATEWAY_SECONDS + 3  # past the first calls' 5 s pause and their end
        n = 0
        while time.monotonic() < ends:  # the webhook's deliveries meanwhile, one at a time
            answers.append(invoke_event(http_api_event(senders.request("zapier", f"0555 500 {n:04d}"))))
            n += 1
            time.sleep(0.3)
    assert len(sandbox.gateway.received) >= CONCURRENCY  # the gateway was kept busy
    assert sandbox.gateway.peak_in_flight <= CONCURRENCY
    assert {answer.body.get("queued") for answer in answers} == {True}  # nothing lost: each waits in the queue
