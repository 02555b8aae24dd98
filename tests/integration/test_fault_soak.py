"""Bounded fault soaks: 600 deliveries, a gateway failing 30 % of requests, senders retrying as they do,
some people signing up twice, the table failing after the gateway's 200; and bursts of one phone from
five function instances at once.

Sender retry policies are those of docs/senders.md, compressed in time (no waiting between
attempts). The figures are printed (`pytest -s` shows them; the README quotes them). Possible
duplicates are the ones the function counted: ambiguous forwards and owners it could not record.

The promise: docs/guarantees.md, "What is guaranteed, and how".
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox import senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.senders import is_timed, sign
from sandbox.stack import Sandbox
from tests.integration.conftest import deliver, invoke_event

DELIVERIES_PER_SOURCE = 600 // len(senders.SOURCES)  # about 600 in all, however many senders there are
FAULT_RATE = 0.3
REPEAT_RATE = 0.15  # deliveries whose phone an earlier delivery already carried (a second signup)
TABLE_FAULT_RATE = 0.03  # attempts after which storing the answer fails (DynamoDB, after the gateway's 200)
UPDATE_ITEM = "DynamoDB_20120810.BatchWriteItem"  # the write that records an owner
# The forwarder's timeout here: a claim it leaves (its record failed) lapses this long after it began.
FORWARDER_SECONDS = 10
Logs = Callable[[], list[dict[str, Any]]]
FAULTS = [
    Fault(status=500),
    Fault(status=502),
    Fault(status=503, retry_after=30),  # does not fit the budget: answered 503 at once
    Fault(status=503, retry_after=0),  # fits: retried inside the request
    Fault(status=429, retry_after=30),
    Fault(reset=True),  # dropped before the gateway did anything
    Fault(delay=0.4),  # past the read timeout; the gateway then creates the owner anyway
    Fault(create_first=True),  # created, then the connection dropped
]


def with_repeats(deliveries: list[Delivery], rng: random.Random) -> list[Delivery]:
    """The same deliveries, some of them carrying the phone of an earlier one instead of their own."""
    for number, delivery in enumerate(deliveries):
        if number and rng.random() < REPEAT_RATE:
            delivery.phone = deliveries[rng.randrange(number)].phone
    return deliveries


def unrecorded(lines: list[dict[str, Any]]) -> int:
    return sum(line["outcome"] == "owner_created_unrecorded" for line in lines)


def attempts_allowed(source: str, status: int) -> int:
    """How many times in all the real sender sends one delivery that keeps getting `status`."""
    return senders.attempts(source, status)  # each sender's policy: sandbox/senders/<source>.py


@dataclass
class Delivery:
    source: str
    phone: str
    attempts: int = 0
    answered_2xx: bool = False
    ambiguous: int = 0
    retries_left: bool = False


def test_fault_soak(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs) -> None:
    from sandbox.aws import LOCAL_SECRET

    monkeypatch.setenv("GATEWAY_READ_TIMEOUT", "0.2")
    sandbox.gateway.chaos(FAULT_RATE, FAULTS, seed=20261126)
    rng = random.Random(7)
    deliveries = [
        Delivery(source, f"+90555{1_000_000 + i * len(senders.SOURCES) + n:07d}")
        for i in range(DELIVERIES_PER_SOURCE)
        for n, source in enumerate(senders.SOURCES)
    ]
    rng.shuffle(deliveries)
    with_repeats(deliveries, rng)
    started = time.monotonic()
    for number, delivery in enumerate(deliveries):
        request = senders.request(delivery.source, delivery.phone, delivery_id=f"soak-{number}")
        while True:
            if is_timed(delivery.source, request):
                request = sign(delivery.source, request, LOCAL_SECRET["webhook_secrets"][delivery.source])
            if rng.random() < TABLE_FAULT_RATE:
                sandbox.aws.fail_next(UPDATE_ITEM)
            answer = invoke_event(http_api_event(request))
            delivery.attempts += 1
            delivery.ambiguous += answer.code == "upstream_ambiguous"
            if 200 <= answer.status < 300:
                delivery.answered_2xx = answer.body in ({"success": True}, {"success": True, "existing": True})
                assert delivery.answered_2xx, answer.body  # valid phones: never a refusal here
                break
            assert answer.status in (503, 409), answer.body
            if delivery.attempts >= attempts_allowed(delivery.source, answer.status):
                break
    elapsed = time.monotonic() - started
    sandbox.gateway.chaos(0, [], seed=0)
    sandbox.gateway.settle()
    sandbox.aws.clear_faults()

    owners = collections.Counter(sandbox.gateway.owners)
    answered = [d for d in deliveries if d.answered_2xx]
    lost = [d for d in deliveries if owners[d.phone] == 0]
    lost_with_retries_left = [d for d in lost if d.attempts < attempts_allowed(d.source, 503)]
    duplicates = sum(count - 1 for count in owners.values() if count > 1)
    ambiguous = sum(d.ambiguous for d in deliveries)
    not_recorded = unrecorded(logs())
    figures = {
        "deliveries": len(deliveries),
        "phones": len({d.phone for d in deliveries}),
        "requests_to_function": sum(d.attempts for d in deliveries),
        "requests_to_gateway": len(sandbox.gateway.received),
        "owners": sum(owners.values()),
        "answered_2xx": len(answered),
        "sender_retries": sum(d.attempts - 1 for d in deliveries),
        "ambiguous_failures": ambiguous,
        "owners_not_recorded": not_recorded,
        "existing_answers": sum(line["outcome"] == "phone_existing" for line in logs()),
        "duplicates": duplicates,
        "lost": len(lost),
        "lost_by_source": dict(collections.Counter(d.source for d in lost)),
        "lost_with_retries_left": len(lost_with_retries_left),
        "seconds": round(elapsed, 1),
    }
    print("\nfault soak:", json.dumps(figures))

    assert len(deliveries) >= 500
    assert [d for d in answered if owners[d.phone] == 0] == []  # nothing answered 2xx is missing
    assert lost_with_retries_left == []  # nothing lost while its sender still had retries
    assert not_recorded > 0  # the table's fault was played
    assert duplicates <= ambiguous + not_recorded  # every duplicate was counted
    # Lost only where the sender never sends a delivery twice (its policy: sandbox/senders).
    assert {d.phone for d in lost} <= {d.phone for d in deliveries if attempts_allowed(d.source, 503) == 1}
    assert elapsed < 120


def test_fault_soak_with_the_retry_queue_and_senders_that_never_retry(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    from owner_webhook.forwarder import lambda_handler as forwarder
    from sandbox import queue

    monkeypatch.setenv("GATEWAY_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    sandbox.gateway.chaos(FAULT_RATE, FAULTS, seed=20261127)
    deliveries = [
        Delivery(source, f"+90555{2_000_000 + i * len(senders.SOURCES) + n:07d}")
        for i in range(DELIVERIES_PER_SOURCE)
        for n, source in enumerate(senders.SOURCES)
    ]
    rng = random.Random(8)
    rng.shuffle(deliveries)
    with_repeats(deliveries, rng)
    started = time.monotonic()
    statuses: collections.Counter[int] = collections.Counter()
    for number, delivery in enumerate(deliveries):
        if rng.random() < TABLE_FAULT_RATE:
            sandbox.aws.fail_next(UPDATE_ITEM)
        answer = invoke_event(http_api_event(senders.request(delivery.source, delivery.phone, f"queued-{number}")))
        statuses[answer.status] += 1  # one attempt only: these senders never retry
        delivery.answered_2xx = 200 <= answer.status < 300
        assert answer.status in (200, 409), answer.body
        if number % 50 == 49:  # the forwarder runs meanwhile, against the same failing gateway
            queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder, timeout_seconds=FORWARDER_SECONDS)
    queue.drain(
        sandbox.aws, sandbox.queue_url, forwarder, rounds=200, timeout_seconds=FORWARDER_SECONDS
    )  # still failing
    dead_letters = queue.depth(sandbox.aws, sandbox.dead_letter_url)
    sandbox.gateway.chaos(0, [], seed=0)  # the gateway and the table recover: the dead letters' cause is fixed
    sandbox.aws.clear_faults()
    redriven = 0
    for _ in range(3):
        # Locally the forwarder tries a message 4 times at once; a phone whose owner the table failed to record
        # stays claimed until the claiming invocation's time is over, so such a message may die again: it is
        # redriven once that claim has lapsed, as an operator would.
        moved = queue.redrive(sandbox.aws, sandbox.dead_letter_url, sandbox.queue_url)
        redriven += moved
        queue.drain(sandbox.aws, sandbox.queue_url, forwarder, rounds=200, timeout_seconds=FORWARDER_SECONDS)
        if not moved or not queue.depth(sandbox.aws, sandbox.dead_letter_url):
            break
        time.sleep(FORWARDER_SECONDS)
    sandbox.gateway.settle()
    elapsed = time.monotonic() - started

    lines = logs()
    webhook = [line for line in lines if line["message"] == "webhook answered"]
    drained = [line for line in lines if line["message"] == "queued delivery handled"]
    ambiguous = sum(line.get("queued_because") == "upstream_ambiguous" for line in webhook) + sum(
        line.get("failure") == "upstream_ambiguous" for line in drained
    )
    owners = collections.Counter(sandbox.gateway.owners)
    lost = [d for d in deliveries if owners[d.phone] == 0]
    duplicates = sum(count - 1 for count in owners.values() if count > 1)
    not_recorded = unrecorded(webhook) + unrecorded(drained)
    figures = {
        "deliveries": len(deliveries),
        "phones": len({d.phone for d in deliveries}),
        "answers": dict(statuses),
        "queued": sum(line["outcome"] == "queued" for line in webhook),
        "forwarder_attempts": len(drained),
        "drained": sum(line["outcome"] == "drained" for line in drained),
        "dead_lettered_then_redriven": redriven,
        "owners": sum(owners.values()),
        "ambiguous_failures": ambiguous,
        "owners_not_recorded": not_recorded,
        "duplicates": duplicates,
        "lost": len(lost),
        "seconds": round(elapsed, 1),
    }
    print("\nfault soak with the retry queue:", json.dumps(figures))

    # The queue answered for the gateway; a 409 only while the phone's owner was being created.
    assert all(d.answered_2xx or owners[d.phone] for d in deliveries)
    assert lost == []  # nothing lost, although no sender retried
    assert duplicates <= ambiguous + not_recorded
    assert redriven >= dead_letters
    assert queue.depth(sandbox.aws, sandbox.queue_url) == queue.depth(sandbox.aws, sandbox.dead_letter_url) == 0
    assert elapsed < 120


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the instances start, so that they read it too."""
    monkeypatch.setenv("GATEWAY_READ_TIMEOUT", "0.2")


BURSTS = 30


def test_fault_soak_bursts_of_one_phone_from_five_instances(
    sandbox: Sandbox, short_read_timeout: None, instances: list[str]
) -> None:
    from sandbox.aws import LOCAL_SECRET

    targets: list[str | None] = [*instances, None]
    for n, url in enumerate(targets):  # warm every instance first
        assert deliver(senders.request("zapier", f"+90555300000{n}", delivery_id=f"warm-{n}"), url).status == 200
    sandbox.gateway.reset()
    sandbox.gateway.chaos(FAULT_RATE, FAULTS, seed=20261128)
    rng = random.Random(9)
    ambiguous = 0
    deliveries: list[Delivery] = []
    started = time.monotonic()
    for burst in range(BURSTS):
        phone = f"+90555{3_100_000 + burst:07d}"
        burst_deliveries = [Delivery(rng.choice(senders.SOURCES), phone) for _ in targets]
        deliveries += burst_deliveries

        def sender(number: int, delivery: Delivery, url: str | None, burst: int = burst) -> None:
            nonlocal ambiguous
            request = senders.request(delivery.source, delivery.phone, delivery_id=f"burst-{burst}-{number}")
            while True:
                if is_timed(delivery.source, request):
                    request = sign(delivery.source, request, LOCAL_SECRET["webhook_secrets"][delivery.source])
                answer = deliver(request, url)
                delivery.attempts += 1
                ambiguous += answer.code == "upstream_ambiguous"
                if 200 <= answer.status < 300:
                    delivery.answered_2xx = answer.body in ({"success": True}, {"success": True, "existing": True})
                    assert delivery.answered_2xx, answer.body
                    return
                assert answer.status in (503, 409), answer.body
                if delivery.attempts >= attempts_allowed(delivery.source, answer.status):
                    return
                time.sleep(0.05)  # the senders wait; here, just long enough for a forward in flight to end

        # The in-process instance's sender runs on this thread (its handler is not for threads).
        threads = [
            threading.Thread(target=sender, args=(n, burst_deliveries[n], url))
            for n, url in enumerate(targets)
            if url is not None
        ]
        for thread in threads:
            thread.start()
        sender(len(targets) - 1, burst_deliveries[-1], None)
        for thread in threads:
            thread.join(30)
    sandbox.gateway.chaos(0, [], seed=0)
    sandbox.gateway.settle()
    elapsed = time.monotonic() - started

    owners = collections.Counter(sandbox.gateway.owners)
    phones = {d.phone for d in deliveries}
    lost = [p for p in phones if owners[p] == 0]
    lost_with_retries_left = [
        p for p in lost if any(d.attempts < attempts_allowed(d.source, 503) for d in deliveries if d.phone == p)
    ]
    duplicates = sum(count - 1 for count in owners.values() if count > 1)
    figures = {
        "bursts": BURSTS,
        "deliveries": len(deliveries),
        "requests_to_function": sum(d.attempts for d in deliveries),
        "owners": sum(owners.values()),
        "ambiguous_failures": ambiguous,
        "duplicates": duplicates,
        "phones_lost": len(lost),
        "seconds": round(elapsed, 1),
    }
    print("\nfault soak, bursts of one phone:", json.dumps(figures))
    assert lost_with_retries_left == []
    assert duplicates <= ambiguous  # five at once create one owner, but for the counted ambiguous ones
    assert sum(d.answered_2xx for d in deliveries) > len(deliveries) / 2
