"""The gateway never has more of our calls than its ceiling (docs/guarantees.md, "A burst"): never more than
GatewayConcurrency in flight, counting the calls whose answer we stopped waiting for wherever in the answer we
stopped (two forwarder instances, sandbox/lambda_service.py, draining the queue and taking deliveries from the
webhook, against a gateway slower than the forward); and never more than GatewayRatePerSecond arriving in any
second, even when a connection opens late."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from owner_webhook.budget import NOTHING, Deadline
from owner_webhook.errors import UpstreamAmbiguousError, UpstreamUnavailableError
from owner_webhook.gateway import GatewayClient
from owner_webhook.owners import Owners
from owner_webhook.pacing import Pace
from owner_webhook.retry_queue import QueuedDelivery
from sandbox import senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.lambda_service import FunctionConfig, LocalLambda, SqsEventSource
from sandbox.stack import Sandbox
from tests.integration.conftest import API_KEY, invoke_event

CONCURRENCY = 2
# The forwarder stops waiting after 0.5 s (its read timeout) or 2 s (its forward budget), and the gateway
# works on: longer than the 5 s pause after a call dropped without an answer, shorter than the abandoned call's.
SLOW = {
    "GATEWAY_CONCURRENCY": str(CONCURRENCY),
    "GATEWAY_RATE_PER_SECOND": "1000",
    "GATEWAY_READ_TIMEOUT": "0.5",
    "FORWARD_BUDGET_SECONDS": "2",
}
# What each call meets at the gateway, and how long the gateway works on it whatever we do.
SLOW_GATEWAYS = {
    "no answer for 7 s": (Fault(delay=7), 7),
    # The status line at once, then a chunk every 0.3 s (each read in time) for 9 s: cut at the forward's budget.
    "an answer streamed for 9 s": (Fault(trickle=0.3, trickle_for=9, trickle_in="chunked"), 9),
}


@pytest.fixture(params=list(SLOW_GATEWAYS))
def slow_gateway(request: pytest.FixtureRequest) -> tuple[Fault, int]:
    return SLOW_GATEWAYS[request.param]


@pytest.fixture
def forwarders(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, slow_gateway: tuple[Fault, int]
) -> Iterator[LocalLambda]:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    _, seconds = slow_gateway
    environment = {**SLOW, "GATEWAY_ABANDONED_CALL_SECONDS": str(seconds)}
    config = FunctionConfig(
        "forwarder", "owner_webhook.forwarder.lambda_handler", CONCURRENCY, 20, environment=environment
    )
    with LocalLambda(config) as service:
        for name, value in service.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FORWARDER_FUNCTION", "forwarder")
        yield service
    sandbox.gateway.settle(seconds + 2)


def test_a_call_we_stopped_waiting_for_still_counts_in_flight(
    sandbox: Sandbox, forwarders: LocalLambda, slow_gateway: tuple[Fault, int]
) -> None:
    fault, seconds = slow_gateway
    sandbox.gateway.chaos(1.0, [fault], seed=1)  # every call slow
    sqs = sandbox.aws.client("sqs")
    for n in range(10):
        queued = QueuedDelivery("jotform", f"in-flight-{n}", f"+90555400{n:04d}", time.time())
        sqs.send_message(QueueUrl=sandbox.queue_url, MessageBody=queued.to_json())
    source = SqsEventSource(
        forwarders.functions["forwarder"], sqs, sandbox.queue_url, batch_size=5, maximum_concurrency=CONCURRENCY
    )
    answers = []
    with source:
        ends = time.monotonic() + seconds + 3  # past the first calls' 5 s pause and their end
        n = 0
        while time.monotonic() < ends:  # the webhook's deliveries meanwhile, one at a time
            answers.append(invoke_event(http_api_event(senders.request("zapier", f"0555 500 {n:04d}"))))
            n += 1
            time.sleep(0.3)
    assert len(sandbox.gateway.received) >= CONCURRENCY  # the gateway was kept busy
    assert sandbox.gateway.peak_in_flight <= CONCURRENCY
    assert {answer.body.get("queued") for answer in answers} == {True}  # nothing lost: each waits in the queue


def _owners(sandbox: Sandbox, pace: Pace, connect_timeout: float = 1.0, read_timeout: float = 2.0) -> Owners:
    """The forwarder's side of the gateway, as wiring.py builds it (a key the gateway refuses is not met here)."""
    client = GatewayClient(sandbox.gateway.url + "/owner", connect_timeout, read_timeout, paced=True)
    return Owners(client, credentials=None, pace=pace)  # type: ignore[arg-type]


# Where the forward's deadline (1 s) finds the answer, each piece of it coming in time for the read timeout; what
# the call is then; and, for the gateway's own drop, that it is no call in flight.
CUTS = [
    ("in the status line", Fault(trickle=0.2, trickle_for=4, trickle_in="status"), "ambiguous"),
    ("in the headers", Fault(trickle=0.2, trickle_for=4, trickle_in="headers"), "created"),
    ("in a Content-Length body", Fault(trickle=0.2, trickle_for=4, trickle_in="body"), "created"),
    ("in a chunked body", Fault(trickle=0.2, trickle_for=4, trickle_in="chunked"), "created"),
    ("at the read timeout, before the status line", Fault(delay=4), "ambiguous"),
]


@pytest.mark.parametrize(("fault", "outcome"), [(f, o) for _, f, o in CUTS], ids=[place for place, _, _ in CUTS])
def test_a_call_cut_wherever_its_answer_is_holds_the_instance(sandbox: Sandbox, fault: Fault, outcome: str) -> None:
    pace = Pace.for_ceiling(1, 1000, abandoned_call_seconds=30)
    owners = _owners(sandbox, pace, read_timeout=0.5 if fault.delay else 2.0)
    sandbox.gateway.inject(fault)
    fields: dict[str, object] = {}
    deadline = Deadline.start(10, 1, NOTHING)
    if outcome == "created":  # its 2xx status line came: the owner exists, whatever was still to come
        owners.create("+905551234567", API_KEY, deadline, fields)
    else:
        with pytest.raises(UpstreamAmbiguousError):
            owners.create("+905551234567", API_KEY, deadline, fields)
    assert pace.in_flight() > 28  # the instance calls nothing until the call is assumed over
    assert not pace.take_turn(latest=time.monotonic() + 28)
    assert fields["gateway_abandoned"] is True


@pytest.mark.parametrize(
    "fault", [Fault(status=201, short_body=True), Fault(create_first=True)], ids=["after its 201", "before its answer"]
)
def test_a_connection_the_gateway_dropped_is_no_call_in_flight(sandbox: Sandbox, fault: Fault) -> None:
    pace = Pace.for_ceiling(1, 1000, abandoned_call_seconds=30)
    sandbox.gateway.inject(fault)
    fields: dict[str, object] = {}
    try:
        owners = _owners(sandbox, pace)
        owners.create("+905551234567", API_KEY, Deadline.start(10, 1, NOTHING), fields)
    except (UpstreamAmbiguousError, UpstreamUnavailableError):
        assert not fault.short_body  # a 2xx status line is the owner created, even cut short
    assert "gateway_abandoned" not in fields
    assert pace.in_flight() == 0


def test_the_rate_holds_where_the_gateway_counts_even_when_a_connection_opens_late(sandbox: Sandbox) -> None:
    # One instance's share of 2 a second: calls 0.55 s apart. Its first connection opens only at TCP's second
    # try, a second after the call began: the next call still waits its spacing after that request went out.
    pace = Pace.for_ceiling(1, 2)
    owners = _owners(sandbox, pace, connect_timeout=2.0)
    sandbox.gateway.open_late(0.5)
    started = time.monotonic()
    for n in range(4):
        owners.create(f"+90555600{n:04d}", API_KEY, Deadline.start(10, 8, NOTHING), {})
    assert sandbox.gateway.arrivals[0] - started >= 0.5  # the first request went out late
    assert len(sandbox.gateway.owners) == 4
    assert sandbox.gateway.peak_rate() <= 2
