"""Where a request's time goes, step by step, in a fresh interpreter: `steps warm` or `steps cold`. Prints one JSON line.

warm: the CPU microseconds of each step of a warm Zapier token delivery without deduplication, measured inside
the requests (see `warm`), and of the whole request; the gateway call beside the same POST made bare.
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


def step_places() -> dict[str, list[tuple[Any, str]]]:
    """Each step, and the functions that make it: timed where a request calls them (an attribute of its
    module or class, as the request looks it up)."""
    from owner_webhook import delivery, handler, observability
    from owner_webhook.credentials import CredentialStore
    from owner_webhook.gateway import GatewayClient
    from owner_webhook.request import WebhookRequest
    from owner_webhook.sources.recipe import RecipeSource

    return {
        "event": [(handler, "route"), (WebhookRequest, "from_event")],
        "recipe": [(delivery.DeliveryService, "source"), (RecipeSource, "delivery_id"), (delivery, "normalized"),
                   (delivery, "loggable")],
        "credential": [(CredentialStore, "load"), (RecipeSource, "verify")],
        "body": [(RecipeSource, "read")],
        "phone": [(delivery, "find_phone"), (delivery, "mask"), (delivery, "phone_ref")],
        "gateway call": [(GatewayClient, "create_owner")],
        "log line": [(observability.logger, "info")],
        "metrics": [(observability.metrics, name) for name in
                    ("add_dimension", "add_dimensions", "add_metric", "flush_metrics")],
    }  # fmt: skip


def warm(events: list[dict[str, Any]]) -> dict[str, float]:
    """Each step's CPU inside real requests: the functions that make a step timed where the request calls them
    (this thread's CPU clock around each call), over ROUNDS x len(events) requests; the whole request timed
    alone, without the timers. Steps run alone would look cheaper: inside a request they share the CPU's caches."""
    import urllib3

    from bench.probe import Context
    from owner_webhook import handler

    context = Context()
    for event in events[:50]:  # warm: clients built, secret cached, connection open
        handler.lambda_handler(event, context)
    whole = min(_requests(handler.lambda_handler, events, context) for _ in range(ROUNDS))
    spent: dict[str, int] = {}

    def timed(step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def measured(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time_ns()
            try:
                return function(*args, **kwargs)
            finally:
                spent[step] = spent.get(step, 0) + time.thread_time_ns() - started

        return measured

    steps = step_places()
    for step, places in steps.items():
        for owner, name in places:
            setattr(owner, name, timed(step, getattr(owner, name)))
    timed_whole = sum(_requests(handler.lambda_handler, events, context) for _ in range(ROUNDS)) / ROUNDS
    calls = ROUNDS * len(events)
    figures = {step: spent.get(step, 0) / calls / 1000 for step in steps}
    figures["the rest"] = timed_whole - sum(figures.values())  # the same requests, the same clock
    pool = urllib3.connection_from_url(os.environ["GATEWAY_BASE_URL"] + "/owner")
    body = b'{"phone": "+905551234567"}'
    headers = {"Authorization": "Bearer local-gateway-key", "Content-Type": "application/json"}
    figures["the same POST, bare"] = _cpu_us(lambda n: pool.urlopen("POST", "/owner", body=body, headers=headers))
    figures["whole request"] = whole
    return figures


def _requests(handler: Callable[..., Any], events: list[dict[str, Any]], context: object) -> float:
    """The CPU microseconds of one request, over `events`."""
    started = time.thread_time_ns()
    for event in events:
        handler(event, context)
    return (time.thread_time_ns() - started) / len(events) / 1000


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
