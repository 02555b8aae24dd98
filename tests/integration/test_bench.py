"""`make bench` keeps working: its probes answer the benchmark's requests and its report says which
targets are met. The figures themselves are not asserted: performance lives in the benchmark.

The promise: docs/performance.md.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from sandbox.stack import Sandbox


@pytest.mark.parametrize("kind", ["floor", "floor-lean", "library-floor", "peer", "adapter"])
def test_each_probe_answers_the_benchmark_requests(sandbox: Sandbox, kind: str) -> None:
    from bench import probe, run

    events = [run._event() for _ in range(5)]
    with redirect_stdout(io.StringIO()):  # the function's log lines
        result = probe.warm(kind, events, warm_up=1)
    assert result["statuses"] == {200: 4}
    assert len(result["times_ms"]) == 4
    assert result["cpu_ms"] > 0
    assert len(sandbox.gateway.owners) == 5


def test_the_count_probe_answers_only_the_first_requests_of_its_file(sandbox: Sandbox) -> None:
    """bench/instructions.py counts two runs that read the same file and differ only in how many they answer."""
    from bench import probe, run

    events = [run._event() for _ in range(5)]
    with redirect_stdout(io.StringIO()):
        result = probe.count("library-floor", events, 3)
    assert result["statuses"] == {200: 3}
    assert len(sandbox.gateway.owners) == 3


def _figures(*, cold_ms: float) -> dict[str, Any]:
    warm = {"p50_ms": 0.5, "p99_ms": 0.7, "requests": 1000, "cpu_ms": 0.15, "peak_mb": 71.0}
    cold = {"median_ms": 230.0, "init_median_ms": 150.0, "pydantic": False, "xray": False}
    in_runtime = {"median_ms": cold_ms, "init_median_ms": cold_ms - 20, "invoke_median_ms": 20.0}
    return {
        "machine": "test",
        "floor_warm": {**warm, "p50_ms": 0.26, "cpu_ms": 0.1},
        "floor_lean_warm": {**warm, "p50_ms": 0.23, "cpu_ms": 0.08},
        "adapter_warm": warm,
        "library_floor_warm": {**warm, "p50_ms": 0.4},
        "peer_warm": {**warm, "p50_ms": 7.0},
        "adapter_warm_dedup": {**warm, "p50_ms": 9.0},
        "peer_cold": {**cold, "median_ms": 170.0},
        "adapter_cold": cold,
        "adapter_cold_no_dedup": {**cold, "median_ms": 200.0},
        "library_floor_cold": {**cold, "median_ms": 187.0},
        "peer_runtime_cold": {"median_ms": 170.0, "init_median_ms": 160.0, "invoke_median_ms": 10.0},
        "adapter_runtime_cold": in_runtime,
        "adapter_runtime_cold_deployed": {**in_runtime, "median_ms": cold_ms + 20},
        "library_floor_runtime_cold": {"median_ms": 204.0, "init_median_ms": 190.0, "invoke_median_ms": 14.0},
        "dynamodb_round_trips": {"new": 3, "repeat": 1, "existing": 1},
        "imports": {"modules": [("phonenumbers", 3.2)], "packages": [("botocore", 30.0)]},
        "steps": {
            "warm": {"event": 7.0, "phone": 50.0, "gateway call": 240.0, "the same POST, bare": 160.0}
            | {"the rest": 60.0, "whole request": 600.0},
            "cold": {"boto3 and urllib3 (the peer's too)": 120.0, "this package": 20.0},
        },
        "artifact": {"unzipped_mb": 11.5, "zipped_mb": 4.4},
        "warm_ratio": {"median": 1.5, "low": 1.4, "high": 1.7},
        "warm_ratio_lean": {"median": 2.2, "low": 2.1, "high": 2.3},
        "library_floor_ratio": {"median": 1.55, "low": 1.5, "high": 1.6},
        "warm_ratio_library": {"median": 1.25, "low": 1.2, "high": 1.3},
        "seconds": 1.0,
    }


def test_paired_ratios_are_taken_round_by_round() -> None:
    from bench.run import paired_ratio

    figures = {"adapter": {"round_p50_ms": [0.5, 0.9, 0.44]}, "floor": {"round_p50_ms": [0.25, 0.5, 0.2]}}
    assert paired_ratio(figures, "adapter", "floor") == {"median": 2.0, "low": 1.8, "high": pytest.approx(2.2)}


@pytest.mark.parametrize(("cold_ms", "met"), [(210.0, True), (230.0, False)])
def test_the_report_prints_each_target_and_whether_it_is_met(cold_ms: float, met: bool) -> None:
    from bench.run import report

    printed = io.StringIO()
    with redirect_stdout(printed):
        report(_figures(cold_ms=cold_ms))
    lines = printed.getvalue().splitlines()
    summary = json.loads(lines[-1])
    assert summary["targets_met"] is met
    assert summary["targets"]["cold, no dedup, in the runtime, vs the peer's"] is met
    [cold_line] = [line for line in lines if line.startswith("cold, no dedup, in the runtime")]
    assert cold_line.split()[-1] == ("yes" if met else "NO")
    assert "1.50x the floor (1.40-1.70x by round); CPU +50 us" in printed.getvalue()
    assert "the same POST made bare: 160 us (+80 us)" in printed.getvalue()  # the gateway call's own overhead
    [rest] = [line.split() for line in lines if line.startswith("the rest")]
    assert rest[2:4] == ["60", "us"]  # the timed requests less their steps
    assert "HTTPConnectionPool.urlopen; adapter 2.20x this" in printed.getvalue()
    assert f"INIT {cold_ms - 20:.0f} ms + first invoke 20 ms, {cold_ms / 170:.2f}x the peer" in printed.getvalue()


def test_the_report_sets_the_library_floor_beside_the_adapter_on_each_target_measure() -> None:
    from bench.run import report

    printed = io.StringIO()
    with redirect_stdout(printed):
        report(_figures(cold_ms=210.0))
    rows = {line[:38].strip(): line[38:].split() for line in printed.getvalue().splitlines()}
    assert rows["warm p50 vs the floor (median round)"] == ["1.55x", "1.50x", "<=", "1.6x"]
    assert rows["cold, in-process, vs the peer's"] == ["1.10x", "1.18x", "<=", "1.3x"]
    assert rows["cold, in the runtime, vs the peer's"] == ["1.20x", "1.24x", "<=", "1.3x"]
    assert "1.55x the floor; the adapter 1.25x this; CPU 150 us" in printed.getvalue()


def _deployed(*, hop_p99: float, outcome: str) -> dict[str, Any]:
    warm = {key: {"p50": 10.0, "p99": 20.0} for key in ("webhook_ms", "invoke_ms", "forwarder_ms", "billed_ms")}
    cold = {"webhook_init_ms": 250.0, "webhook_invoke_ms": 600.0, "answered_ms": 850.0, "forwarder_init_ms": 380.0,
            "forwarder_invoke_ms": 150.0, "invoke_ms": 560.0, "billed_ms": 1381.0}  # fmt: skip
    return {
        "cold_outcomes": [outcome],
        "cold": cold,
        "cold_alone": {"answered_ms": 370.0, "billed_ms": 370.0},
        "warm": {**warm, "hop_ms": {"p50": 3.0, "p99": hop_p99}},
        "warm_alone": {"webhook_ms": {"p50": 8.0, "p99": 12.0}, "billed_ms": {"p50": 9.0, "p99": 13.0}},
        "billed_mean_ms": 30.0,
        "billed_alone_mean_ms": 14.0,
        "cold_runs": 7,
        "warm_requests": 700,
        "machine": "test",
        "seconds": 1.0,
    }


@pytest.mark.parametrize(
    ("hop_p99", "outcome", "met"),
    [(3.5, "owner_created", True), (250.0, "owner_created", False), (3.5, "queued", False)],
)
def test_the_deployed_path_report_says_which_targets_are_met(hop_p99: float, outcome: str, met: bool) -> None:
    from bench.deployed import report

    printed = io.StringIO()
    with redirect_stdout(printed):
        report(_deployed(hop_p99=hop_p99, outcome=outcome))
    summary = json.loads(printed.getvalue().splitlines()[-1])
    assert summary["targets_met"] is met
    assert "webhook INIT 250 + invoke 600 ms, in which the forwarder's INIT 380 + invoke 150 ms" in printed.getvalue()
    assert "+480 ms for the forwarder" in printed.getvalue()
