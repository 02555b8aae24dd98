"""`make bench`, the deployed path: the webhook and the forwarder as `sam build` packages them, each in the
Lambda Runtime Interface Emulator (sandbox/runtime.py), the webhook invoking the forwarder through the Lambda
Invoke stand-in (sandbox/lambda_service.py, the forwarder's instance emulated behind it); and beside them the
same webhook forwarding itself. Prints a table, the targets and one JSON line.

Cold is the first signup after idle: both functions new, each starting (its INIT) on its first invocation,
COLD_RUNS times, the two setups interleaved. Warm is WARM_REQUESTS signups on the same instances after it.
Durations are the runtime's own (INIT REPORT, INVOKE RTDONE); the invoke is what the webhook's log line says
it waited for the forwarder (`forwarder_latency_ms`), and the hop is that wait less the forwarder's duration.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from typing import Any

from bench import run
from bench.table import print_table, print_targets
from sandbox.lambda_service import FunctionConfig, LocalLambda
from sandbox.runtime import FUNCTIONS, LambdaRuntime, artifact

COLD_RUNS = 7
WARM_REQUESTS = 100
WARM_UP = 10
FORWARDER = "owner-webhook-forwarder"
# The gateway's ceiling where it never binds: pacing a burst is the burst soak's subject, not the hop's.
UNPACED = {"GATEWAY_CONCURRENCY": "1", "GATEWAY_RATE_PER_SECOND": "1000"}
# What the webhook keeps of the forward's time for the invocation's round trip (forwarder_client.INVOKE_SECONDS).
INVOKE_MS = 200
# Lambda's price per GB-second (arm64, us-east-1; docs/performance.md) and the template's memory.
GB_SECOND_USD = 0.0000133334
MEMORY_GB = 256 / 1024


def _lines(logs: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in logs:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("message") == "webhook answered":
            parsed.append(value)
    return parsed


def _billed(*milliseconds: float) -> int:
    """Lambda's billed duration of one invocation: its INIT (when it started the instance) and its own, rounded up."""
    return max(1, math.ceil(sum(milliseconds)))


def pair(env: dict[str, str]) -> dict[str, Any]:
    """One first signup after idle (both functions new), then WARM_REQUESTS with both warm."""
    webhook_handler, webhook_timeout = FUNCTIONS["WebhookFunction"]
    forwarder_handler, forwarder_timeout = FUNCTIONS["ForwarderFunction"]
    config = FunctionConfig(
        FORWARDER,
        forwarder_handler,
        1,
        timeout=forwarder_timeout,
        environment={**env, **UNPACED},
        code=artifact("ForwarderFunction"),
    )
    with LocalLambda(config) as service:
        forwarder = service.functions[FORWARDER]
        variables = {**env, **service.environment(), "FORWARDER_FUNCTION": FORWARDER}
        code = artifact("WebhookFunction")
        with LambdaRuntime(
            code, webhook_handler, variables, timeout=webhook_timeout, name="owner-webhook-webhook"
        ) as webhook:
            first = webhook.invoke(run._event())
            [line] = _lines(first.logs)
            assert first.init_ms is not None and forwarder.invocations[0].init_ms is not None, first
            cold = {
                "outcome": line["outcome"],
                "webhook_init_ms": first.init_ms,
                "webhook_invoke_ms": first.duration_ms,
                "answered_ms": first.init_ms + first.duration_ms,
                "forwarder_init_ms": forwarder.invocations[0].init_ms,
                "forwarder_invoke_ms": forwarder.invocations[0].duration_ms,
                "invoke_ms": line["forwarder_latency_ms"],
                "billed_ms": _billed(first.init_ms, first.duration_ms) + forwarder.invocations[0].billed_ms,
            }
            warm = []
            for number in range(WARM_UP + WARM_REQUESTS):
                done = len(forwarder.invocations)
                invocation = webhook.invoke(run._event())
                [line] = _lines(invocation.logs)
                assert line["outcome"] == "owner_created", line
                own = forwarder.invocations[done]
                if number >= WARM_UP:
                    warm.append(
                        {
                            "webhook_ms": invocation.duration_ms,
                            "invoke_ms": line["forwarder_latency_ms"],
                            "hop_ms": line["forwarder_latency_ms"] - own.duration_ms,
                            "forwarder_ms": own.duration_ms,
                            "billed_ms": _billed(invocation.duration_ms) + own.billed_ms,
                        }
                    )
    return {"cold": cold, "warm": warm}


def alone(env: dict[str, str]) -> dict[str, Any]:
    """The same, the webhook forwarding itself (no forwarder function): the hop's comparison."""
    handler, timeout = FUNCTIONS["WebhookFunction"]
    with LambdaRuntime(
        artifact("WebhookFunction"), handler, env, timeout=timeout, name="owner-webhook-webhook"
    ) as webhook:
        first = webhook.invoke(run._event())
        [line] = _lines(first.logs)
        assert first.init_ms is not None, first
        cold = {
            "outcome": line["outcome"],
            "answered_ms": first.init_ms + first.duration_ms,
            "billed_ms": _billed(first.init_ms, first.duration_ms),
        }
        warm = []
        for number in range(WARM_UP + WARM_REQUESTS):
            invocation = webhook.invoke(run._event())
            assert _lines(invocation.logs)[0]["outcome"] == "owner_created"
            if number >= WARM_UP:
                warm.append({"webhook_ms": invocation.duration_ms, "billed_ms": _billed(invocation.duration_ms)})
    return {"cold": cold, "warm": warm}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def summary(pairs: list[dict[str, Any]], alones: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the cold runs; percentiles over every warm signup."""

    def cold(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r["cold"][key] for r in runs))

    def warm(runs: list[dict[str, Any]], key: str) -> list[float]:
        return [w[key] for r in runs for w in r["warm"]]

    return {
        "cold_outcomes": sorted({r["cold"]["outcome"] for r in pairs}),
        "cold": {key: cold(pairs, key) for key in pairs[0]["cold"] if key != "outcome"},
        "cold_alone": {key: cold(alones, key) for key in alones[0]["cold"] if key != "outcome"},
        "warm": {
            key: {"p50": statistics.median(warm(pairs, key)), "p99": _p(warm(pairs, key), 0.99)}
            for key in pairs[0]["warm"][0]
        },
        "warm_alone": {
            key: {"p50": statistics.median(warm(alones, key)), "p99": _p(warm(alones, key), 0.99)}
            for key in alones[0]["warm"][0]
        },
        "billed_mean_ms": statistics.mean(warm(pairs, "billed_ms")),
        "billed_alone_mean_ms": statistics.mean(warm(alones, "billed_ms")),
        "cold_runs": len(pairs),
        "warm_requests": len(warm(pairs, "webhook_ms")),
    }


def targets(f: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    hop99 = f["warm"]["hop_ms"]["p99"]
    outcomes = f["cold_outcomes"]
    return [
        ("first signup after idle (both cold): created, not queued", ", ".join(outcomes), "owner_created",
         outcomes == ["owner_created"]),
        ("the hop, warm p99 (the webhook keeps 0.2 s for it)", f"{hop99:.1f} ms", f"<= {INVOKE_MS} ms",
         hop99 <= INVOKE_MS),
    ]  # fmt: skip


def report(f: dict[str, Any]) -> None:
    cold, alone_cold, warm, alone_warm = f["cold"], f["cold_alone"], f["warm"], f["warm_alone"]
    usd = f["billed_mean_ms"] / 1000 * MEMORY_GB * GB_SECOND_USD * 1e6
    print(f"\nowner-webhook deployed path ({f['machine']}; {f['seconds']} s)\n")
    rows = [
        ("measure", "p50 / median", "p99", "note"),
        ("first signup after idle, both cold", f"{cold['answered_ms']:.0f} ms", "",
         f"webhook INIT {cold['webhook_init_ms']:.0f} + invoke {cold['webhook_invoke_ms']:.0f} ms, in which the "
         f"forwarder's INIT {cold['forwarder_init_ms']:.0f} + invoke {cold['forwarder_invoke_ms']:.0f} ms; "
         f"median of {f['cold_runs']}"),
        ("  the same, the webhook forwarding itself", f"{alone_cold['answered_ms']:.0f} ms", "",
         f"+{cold['answered_ms'] - alone_cold['answered_ms']:.0f} ms for the forwarder"),
        ("signup, both warm (the webhook's duration)", f"{warm['webhook_ms']['p50']:.2f} ms",
         f"{warm['webhook_ms']['p99']:.2f} ms", f"{f['warm_requests']} signups"),
        ("  the same, the webhook forwarding itself", f"{alone_warm['webhook_ms']['p50']:.2f} ms",
         f"{alone_warm['webhook_ms']['p99']:.2f} ms",
         f"+{warm['webhook_ms']['p50'] - alone_warm['webhook_ms']['p50']:.2f} ms p50 for the forwarder"),
        ("the invoke, as the webhook waits for it", f"{warm['invoke_ms']['p50']:.2f} ms",
         f"{warm['invoke_ms']['p99']:.2f} ms", f"the forwarder's own {warm['forwarder_ms']['p50']:.2f} ms p50"),
        ("the hop (the invoke less the forwarder's)", f"{warm['hop_ms']['p50']:.2f} ms", f"{warm['hop_ms']['p99']:.2f} ms",
         "signing, the Invoke API stand-in, the emulator"),
        ("billed per delivery, warm (both functions)", f"{f['billed_mean_ms']:.1f} ms", "",
         f"mean; forwarding itself {f['billed_alone_mean_ms']:.1f} ms; ${usd:.3f} per million at 256 MB"),
        ("billed per delivery, first after idle", f"{cold['billed_ms']:.0f} ms", "",
         f"INITs billed (since August 2025); forwarding itself {alone_cold['billed_ms']:.0f} ms"),
    ]  # fmt: skip
    print_table(rows)
    print()
    print_targets(f, targets(f))


def main() -> None:
    artifact("WebhookFunction"), artifact("ForwarderFunction")  # SystemExit without `make build`
    run.runtime_python()
    started = time.monotonic()
    pairs, alones = [], []
    with run.standins() as env:
        for _ in range(COLD_RUNS):
            pairs.append(pair(env))
            alones.append(alone(env))
    figures = summary(pairs, alones)
    figures["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    figures["seconds"] = round(time.monotonic() - started, 1)
    report(figures)


if __name__ == "__main__":
    main()
