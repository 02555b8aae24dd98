"""One measurement in a fresh interpreter: `cold KIND EVENT_FILE`, `warm KIND EVENTS_FILE` or `count KIND EVENTS_FILE N`.

KIND is `adapter` (owner_webhook.handler), `peer` (bench.peer_handler), `library-floor` (bench.library_floor)
or, for warm, `floor` (a bare urllib3 POST of the same body to the same gateway) or `floor-lean` (the same POST
through the host's connection pool, as the adapter sends it). Prints one JSON line.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from typing import Any


class Context:
    function_name = "owner-webhook-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:owner-webhook-bench"
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/owner-webhook-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _handler(kind: str) -> Any:
    if kind == "adapter":
        from owner_webhook.handler import lambda_handler

        return lambda_handler
    if kind == "peer":
        from bench.peer_handler import lambda_handler as peer

        return peer
    if kind == "library-floor":
        from bench.library_floor import lambda_handler as library_floor

        return library_floor
    import urllib3  # the floor: the same POST with nothing around it

    from sandbox.local_secrets import GATEWAY_KEY

    url = os.environ["GATEWAY_BASE_URL"] + "/owner"
    body = b'{"phone": "+905551234567"}'
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    if kind == "floor-lean":  # the call the adapter makes: the host's own pool, no URL parse per request
        pool = urllib3.connection_from_url(url)

        def floor_lean(event: dict[str, Any], context: Any) -> dict[str, Any]:
            response = pool.urlopen("POST", "/owner", body=body, headers=headers, timeout=5)
            return {"statusCode": response.status}

        return floor_lean
    http = urllib3.PoolManager()  # the usual urllib3 POST, as the peer makes it

    def floor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = http.request("POST", url, body=body, headers=headers, timeout=5)
        return {"statusCode": response.status}

    return floor


def cold(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    handler = _handler(kind)  # the init: the handler's import
    initialized = time.perf_counter()
    result = handler(event, Context())
    done = time.perf_counter()
    return {
        "ms": (done - started) * 1000,
        "init_ms": (initialized - started) * 1000,
        "status": result["statusCode"],
        "pydantic": any(name.split(".")[0] == "pydantic" for name in sys.modules),
        "xray": "aws_xray_sdk" in sys.modules,
    }


def warm(kind: str, events: list[dict[str, Any]], warm_up: int = 50) -> dict[str, Any]:
    handler = _handler(kind)
    context = Context()
    statuses: dict[int, int] = {}
    times = []
    cpu = 0.0
    for number, event in enumerate(events):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = handler(event, context)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if number >= warm_up:
            times.append(elapsed * 1000)
            cpu += elapsed_cpu
            statuses[result["statusCode"]] = statuses.get(result["statusCode"], 0) + 1
    return {
        "times_ms": times,
        # This process's CPU per request: the work on this side, whatever the gateway's wake-up costs.
        "cpu_ms": cpu * 1000 / len(times),
        "statuses": statuses,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def count(kind: str, events: list[dict[str, Any]], requests: int) -> dict[str, Any]:
    """The first `requests` of `events` answered, untimed, for bench/instructions.py: two runs that read the same
    file and differ only in how many they answer. The import's objects are collected and frozen first, so that
    a collection of them falls inside neither run's requests by chance."""
    handler = _handler(kind)
    context = Context()
    gc.collect()
    gc.freeze()
    statuses: dict[int, int] = {}
    for event in events[:requests]:
        status = handler(event, context)["statusCode"]
        statuses[status] = statuses.get(status, 0) + 1
    gc.unfreeze()
    return {"statuses": statuses}


def main() -> None:
    mode, kind, path = sys.argv[1:4]
    with open(path) as file:  # noqa: PTH123 - pathlib would add to the measured imports
        data = json.load(file)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115, PTH123 - the function's log lines stay out of the output
    if mode == "count":
        result = count(kind, data, int(sys.argv[4]))
    elif mode == "cold":
        result = cold(kind, data)
    else:
        result = warm(kind, data)
    sys.stdout = sys.__stdout__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
