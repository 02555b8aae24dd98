"""A signup campaign's burst, played end to end on 127.0.0.1: the burst soak of the tests and of `make bench`.

Senders that never retry (Jotform, Zapier without Autoreplay) send distinct phones, some of them twice,
from many function instances at once, within a few seconds, to the webhook function behind the Lambda
stand-in (sandbox/lambda_service.py), as API Gateway invokes it. The forwarder (a function of its own,
with its reserved concurrency; it also drains the retry queue) is the only code that calls the sandbox
gateway, which has a ceiling it does not document: 429 above a rate, slow answers above a number
of requests at once. The run ends when the retry queue is drained; `run` returns what happened, in
figures: what each delivery was answered and how fast, what the gateway saw (requests, peak rate,
peak concurrency, 429s), owners, duplicates against the possible duplicates the function counted
(its AmbiguousForward metric), lost phones, both queues' depth, and what Lambda would bill.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from sandbox import queue, senders
from sandbox.catalog import answer_code
from sandbox.events import http_api_event
from sandbox.gateway import Ceiling
from sandbox.lambda_service import FunctionConfig, LocalFunction, LocalLambda, SqsEventSource
from sandbox.stack import Sandbox

WEBHOOK = "owner-webhook-webhook"
FORWARDER = "owner-webhook-forwarder"
# Lambda's published prices (us-east-1, arm64, read 2026-12-04): duration per GB-second, and per request.
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000


@dataclass(frozen=True)
class Plan:
    """The burst and the deployment it meets."""

    phones: int = 2000
    repeat_rate: float = 0.10  # deliveries that carry an earlier delivery's phone (a second signup)
    instances: int = 20  # webhook instances, each with its sender sending one delivery at a time
    seconds: float = 20.0  # the whole burst is sent within this time
    sources: tuple[str, ...] = ("jotform", "zapier")  # senders that never retry
    ceiling: Ceiling = field(default_factory=lambda: Ceiling(rate=10, in_flight=5))  # the gateway's, unwritten
    # The deployment's settings: the gateway's ceiling as the template states it, and the event source.
    gateway_concurrency: int = 5
    gateway_rate: float = 10.0
    batch_size: int = 5  # as the template's event source
    batching_window: float = 0.0
    memory_mb: int = 256
    webhook_timeout: float = 10.0
    forwarder_timeout: float = 60.0
    drain_timeout: float = 600.0  # stop waiting for the queue after this long (then the figures say so)
    # More variables for both functions. A message that failed waits 15 s, then 30, 60 (deployed: 60 s, then
    # doubling), not the sandbox's 0 s: within the sandbox's 4 receives, a phone whose claim outlives a
    # forwarder invocation (up to its 60 s) is then tried again after the claim has lapsed, as deployed.
    environment: Mapping[str, str] = field(default_factory=lambda: {"RETRY_DELAY_SECONDS": "15"})
    seed: int = 20261204


@dataclass
class _Delivery:
    source: str
    phone: str
    delivery_id: str
    status: int = 0
    code: str = ""
    seconds: float = 0.0  # from its request to its answer
    sent_at: float = 0.0  # its request, in seconds from the burst's start
    function_error: str | None = None


def deliveries(plan: Plan) -> list[_Delivery]:
    """`plan.phones` distinct phones, and `repeat_rate` more deliveries of earlier ones, shuffled."""
    rng = random.Random(plan.seed)  # noqa: S311 - a reproducible burst, not a secret
    phones = [f"+90555{4_000_000 + n:07d}" for n in range(plan.phones)]
    repeats = [rng.choice(phones) for _ in range(round(plan.phones * plan.repeat_rate))]
    everything = phones + repeats
    rng.shuffle(everything)
    # A repeat sent before its phone's first delivery is simply the first: what matters is two of each.
    return [_Delivery(plan.sources[n % len(plan.sources)], phone, f"burst-{n}") for n, phone in enumerate(everything)]


def functions(plan: Plan, sandbox: Sandbox) -> tuple[FunctionConfig, FunctionConfig]:
    """The two functions as the template declares them, pointed at the sandbox."""
    shared = {"RETRY_QUEUE_URL": sandbox.queue_url, **plan.environment}
    webhook = FunctionConfig(
        WEBHOOK,
        "owner_webhook.handler.lambda_handler",
        plan.instances,
        plan.webhook_timeout,
        plan.memory_mb,
        {**shared, "FORWARDER_FUNCTION": FORWARDER},
    )
    forwarder = FunctionConfig(
        FORWARDER,
        "owner_webhook.forwarder.lambda_handler",
        plan.gateway_concurrency,  # its reserved concurrency: the gateway's ceiling in flight
        plan.forwarder_timeout,
        plan.memory_mb,
        {
            **shared,
            "GATEWAY_CONCURRENCY": str(plan.gateway_concurrency),
            "GATEWAY_RATE_PER_SECOND": str(plan.gateway_rate),
            "FUNCTION_TIMEOUT_SECONDS": str(plan.forwarder_timeout),
        },
    )
    return webhook, forwarder


def run(sandbox: Sandbox, plan: Plan) -> dict[str, Any]:
    """Send the burst, wait for the queue to drain, and say what happened in figures."""
    sandbox.gateway.limit(plan.ceiling)
    sent = deliveries(plan)
    webhook_config, forwarder_config = functions(plan, sandbox)
    with LocalLambda(webhook_config, forwarder_config) as service:
        webhook, forwarder = service.functions[WEBHOOK], service.functions[FORWARDER]
        source = SqsEventSource(
            forwarder,
            sandbox.aws.client("sqs"),
            sandbox.queue_url,
            batch_size=plan.batch_size,
            window=plan.batching_window,
            maximum_concurrency=plan.gateway_concurrency,
        )
        with source:
            started = time.monotonic()
            _send(service.url, sent, plan)
            burst_ends = time.monotonic()
            drained = _drain(sandbox, forwarder, plan.drain_timeout)
            drain_ends = time.monotonic()
        sandbox.gateway.settle()
        return _figures(sandbox, plan, sent, webhook, forwarder, source, started, burst_ends, drain_ends, drained)


def _send(url: str, sent: list[_Delivery], plan: Plan) -> None:
    """Each instance's sender sends its share, one at a time, each delivery at its moment in the burst."""
    http = urllib3.PoolManager(maxsize=plan.instances, retries=False)
    invoke = f"{url}/2015-03-31/functions/{WEBHOOK}/invocations"
    spacing = plan.seconds / max(1, len(sent))
    started = time.monotonic()

    def sender(first: int) -> None:
        for number in range(first, len(sent), plan.instances):
            delivery = sent[number]
            time.sleep(max(0.0, started + number * spacing - time.monotonic()))
            event = http_api_event(senders.request(delivery.source, delivery.phone, delivery.delivery_id))
            asked = time.monotonic()
            delivery.sent_at = asked - started
            response = http.request("POST", invoke, body=json.dumps(event).encode(), timeout=plan.webhook_timeout + 5)
            delivery.seconds = time.monotonic() - asked
            if response.status == 429:  # the webhook's own concurrency: API Gateway would answer 500
                delivery.status, delivery.code = 500, "function_throttled"
                continue
            result = json.loads(response.data)
            delivery.function_error = response.headers.get("X-Amz-Function-Error")
            if delivery.function_error:
                delivery.status, delivery.code = 502, result.get("errorType", "")  # API Gateway: 500/502
                continue
            delivery.status = result["statusCode"]
            body = json.loads(result["body"])
            delivery.code = answer_code(body)

    threads = [threading.Thread(target=sender, args=(n,), name=f"sender-{n}") for n in range(plan.instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(plan.seconds + 120)


def _drain(sandbox: Sandbox, forwarder: LocalFunction, timeout: float) -> bool:
    """Wait until the retry queue is empty and the forwarder idle (twice in a row); False after `timeout`."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        empty = queue.depth(sandbox.aws, sandbox.queue_url) == 0 and forwarder.busy() == 0
        quiet = quiet + 1 if empty else 0
        if quiet >= 2:
            return True
        time.sleep(0.2)
    return False


def _metric(lines: list[dict[str, Any]], name: str) -> int:
    """The sum of one metric over the EMF lines of the function's logs (what CloudWatch would count)."""
    total = 0
    for line in lines:
        if "_aws" in line and name in line:
            values = line[name] if isinstance(line[name], list) else [line[name]]
            total += int(sum(values))
    return total


def _figures(
    sandbox: Sandbox,
    plan: Plan,
    sent: list[_Delivery],
    webhook: LocalFunction,
    forwarder: LocalFunction,
    source: SqsEventSource,
    started: float,
    burst_ends: float,
    drain_ends: float,
    drained: bool,
) -> dict[str, Any]:
    gateway = sandbox.gateway
    owners = collections.Counter(gateway.owners)
    phones = {d.phone for d in sent}
    lines = webhook.logs + forwarder.logs
    billed = webhook.billed_gb_seconds() + forwarder.billed_gb_seconds()
    requests = len(webhook.invocations) + len(forwarder.invocations)
    cost = billed * PRICE_PER_GB_SECOND + requests * PRICE_PER_REQUEST
    statuses = collections.Counter(gateway_entry.status for gateway_entry in gateway.received)
    return {
        "deliveries": len(sent),
        "phones": len(phones),
        "instances": plan.instances,
        "sent_in_s": round(max(d.sent_at for d in sent), 1),  # the last delivery's request: the senders kept pace
        "answered_in_s": round(burst_ends - started, 1),  # and its answer
        "answers": dict(collections.Counter(f"{d.status} {d.code}" for d in sent)),
        "answer_max_s": round(max(d.seconds for d in sent), 2),
        "function_errors": sum(d.function_error is not None for d in sent),
        "webhook_throttled": webhook.throttles,
        "forwarder_throttled": forwarder.throttles,
        "forwarder_peak_busy": forwarder.peak_busy,
        "sqs_batches": source.batches,
        "queued_deliveries_handled": dict(
            collections.Counter(
                f"{line['outcome']} {line.get('failure', '')}".strip()
                for line in forwarder.logs
                if line.get("message") == "queued delivery handled"
            )
        ),
        "sqs_messages": source.messages,
        "gateway_requests": len(gateway.received),
        "gateway_answers": {str(status): count for status, count in sorted(statuses.items())},
        "gateway_peak_rate": gateway.peak_rate(),
        "gateway_peak_in_flight": gateway.peak_in_flight,
        "gateway_ceiling": {"rate": plan.ceiling.rate, "in_flight": plan.ceiling.in_flight},
        "owners": sum(owners.values()),
        "requests_per_owner": round(len(gateway.received) / max(1, len(owners)), 2),
        "duplicates": sum(count - 1 for count in owners.values() if count > 1),
        "possible_duplicates_counted": _metric(lines, "AmbiguousForward"),
        "lost": sum(owners[phone] == 0 for phone in phones),
        "drained": drained,
        "drain_s": round(drain_ends - burst_ends, 1),
        "retry_queue": queue.depth(sandbox.aws, sandbox.queue_url),
        "dead_letters": queue.depth(sandbox.aws, sandbox.dead_letter_url),
        "billed_gb_s_per_delivery": round(billed / len(sent), 6),
        "webhook_billed_ms_mean": round(_mean_billed(webhook), 1),
        "forwarder_billed_ms_mean": round(_mean_billed(forwarder), 1),
        "lambda_usd_per_million_deliveries": round(cost / len(sent) * 1_000_000, 2),
    }


def _mean_billed(function: LocalFunction) -> float:
    return sum(i.billed_ms for i in function.invocations) / max(1, len(function.invocations))
