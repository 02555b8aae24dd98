"""Where a request's time goes, step by step, in a fresh interpreter: `steps warm` or `steps cold`. Prints one JSON line.

warm: each step of a warm Zapier token delivery without deduplication, run alone ROUNDS x CALLS times on a
warm function; the CPU microseconds of one call (the best round: the least disturbed by other processes).
cold: the same function's first request after a fresh start, in the order it happens: the imports the peer
makes too (boto3, urllib3), then Powertools, phonenumbers and this package, then the function's parts
(settings, recipes, AWS clients), the secret's first fetch, and the rest of the first request.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

ROUNDS = 5
CALLS = 300


def _cpu_us(step: Callable[[int], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for n in range(CALLS):
            step(n)
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def warm(events: list[dict[str, Any]]) -> dict[str, float]:
    import urllib3

    from bench.probe import Context
    from owner_webhook.delivery_ids import loggable, normalized, phone_ref
    from owner_webhook.handler import lambda_handler, route
    from owner_webhook.observability import logger, metrics
    from owner_webhook.phone import mask, to_e164
    from owner_webhook.request import WebhookRequest
    from owner_webhook.wiring import parts

    context = Context()
    for event in events[:50]:  # warm: clients built, secret cached, connection open
        lambda_handler(event, context)
    ready = parts()
    service = ready.service
    source = service.source("zapier")
    requests = [WebhookRequest.from_event(event, 256 * 1024) for event in events]
    payloads = [source.read(request) for request in requests]
    key = service._phone_keys()[0]
    fields: dict[str, Any] = {"source": "zapier", "delivery_id": "hmac:keklcgaedcknpfcijdlieffnckkgobpj", "phone": "+90555*****00",
              "phone_ref": "ref:ihanakbddnblllbi", "gateway_status": 200, "gateway_latency_ms": 0.5,
              "gateway_attempts": 1, "outcome": "owner_created", "status": 200, "total_ms": 0.8}  # fmt: skip
    gateway = service._owners._gateway
    pool = urllib3.connection_from_url(os.environ["GATEWAY_BASE_URL"] + "/owner")
    body = b'{"phone": "+905551234567"}'
    headers = {"Authorization": "Bearer local-gateway-key", "Content-Type": "application/json"}

    def event_step(n: int) -> None:
        route(events[n])
        WebhookRequest.from_event(events[n], 256 * 1024)

    def recipe(n: int) -> None:
        chosen = service.source("zapier")
        loggable(normalized(chosen.delivery_id(requests[n], payloads[n])), key)

    def credential(n: int) -> None:
        source.verify(requests[n], service._credentials.load().webhook_secret("zapier"))  # type: ignore[arg-type]

    def phone(n: int) -> None:
        e164 = to_e164(source.find_phone(payloads[n]) or "", "TR")
        mask(e164)
        phone_ref(e164, key)

    def metric(n: int) -> None:
        metrics.add_dimension(name="source", value="zapier")
        metrics.add_dimensions(service="owner-webhook")
        metrics.add_metric(name="OwnerCreated", unit="Count", value=1)
        metrics.flush_metrics()

    return {
        "event": _cpu_us(event_step),
        "recipe": _cpu_us(recipe),
        "credential": _cpu_us(credential),
        "body": _cpu_us(lambda n: source.read(requests[n])),
        "phone": _cpu_us(phone),
        "log line": _cpu_us(lambda n: logger.info("webhook answered", **fields)),
        "metrics": _cpu_us(metric),
        "gateway call": _cpu_us(
            lambda n: gateway.create_owner("+905551234567", "local-gateway-key", time.monotonic() + 5)
        ),
        "the same POST, bare": _cpu_us(lambda n: pool.urlopen("POST", "/owner", body=body, headers=headers, timeout=5)),
        "whole request": _cpu_us(lambda n: lambda_handler(events[n], context)),
    }


def cold(event: dict[str, Any]) -> dict[str, float]:
    marks = [("start", time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    import boto3  # noqa: F401
    import urllib3  # noqa: F401

    mark("boto3 and urllib3 (the peer's too)")
    import aws_lambda_powertools.logging
    import aws_lambda_powertools.metrics
    import aws_lambda_powertools.utilities.parameters  # noqa: F401

    mark("Powertools (logging, metrics, parameters)")
    import phonenumbers  # noqa: F401

    mark("phonenumbers")
    from owner_webhook.handler import lambda_handler
    from owner_webhook.wiring import parts

    mark("this package")
    ready = parts()
    mark("parts: settings, recipes, AWS clients")
    ready.service._credentials.load()
    mark("the secret, first fetch")
    from bench.probe import Context

    lambda_handler(event, Context())
    mark("the rest of the first request")
    return {name: (at - before) * 1000 for (_, before), (name, at) in itertools.pairwise(marks)}


def main() -> None:
    mode, path = sys.argv[1:3]
    with open(path) as file:  # noqa: PTH123 - pathlib would add to the measured imports
        data = json.load(file)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115, PTH123 - the function's log lines
    result = warm(data) if mode == "warm" else cold(data)
    sys.stdout = sys.__stdout__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
