"""`make bench`'s burst: its report says each target and whether it is met, and prints the drain time,
the gateway's peak rate and the cost per delivery. The figures themselves are measured by the bench."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest


def _figures(**changes: Any) -> dict[str, Any]:
    figures = {
        "deliveries": 2200, "phones": 2000, "instances": 20, "sent_in_s": 19.9, "answered_in_s": 20.1,
        "answers": {"200 owner_created": 47, "200 queued": 2152, "200 phone_existing": 1},
        "answer_max_s": 4.35, "function_errors": 0, "webhook_throttled": 0, "forwarder_throttled": 2150,
        "forwarder_peak_busy": 5, "sqs_batches": 435, "queued_deliveries_handled": {"drained": 1953},
        "sqs_messages": 2153, "gateway_requests": 2000, "gateway_answers": {"200": 2000}, "gateway_peak_rate": 10,
        "gateway_peak_in_flight": 2, "gateway_ceiling": {"rate": 10, "in_flight": 5}, "owners": 2000,
        "requests_per_owner": 1.0, "duplicates": 0, "possible_duplicates_counted": 3, "lost": 0, "drained": True,
        "drain_s": 211.2, "retry_queue": 0, "dead_letters": 0, "billed_gb_s_per_delivery": 0.248822,
        "webhook_billed_ms_mean": 469.1, "forwarder_billed_ms_mean": 2386.7,
        "lambda_usd_per_million_deliveries": 3.56, "seconds": 280.0,
    }  # fmt: skip
    return {**figures, **changes}


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({}, None),
        ({"gateway_peak_rate": 11}, "gateway's peak rate (requests in any second)"),
        ({"lost": 1}, "lost phones"),
        ({"duplicates": 4}, "duplicates / possible duplicates counted"),
        ({"answers": {"200 queued": 2199, "503 at_ceiling": 1}}, "answers that are not 2xx or 409"),
        ({"dead_letters": 1}, "retry queue / dead-letter queue at the end"),
        ({"sent_in_s": 54.4}, "sent within (the last delivery's request)"),
    ],
)
def test_the_report_says_which_target_is_not_met(changes: dict[str, Any], failing: str | None) -> None:
    from bench.burst import report

    printed = io.StringIO()
    with redirect_stdout(printed):
        report(_figures(**changes))
    lines = printed.getvalue().splitlines()
    summary = json.loads(lines[-1])
    assert summary["targets_met"] is (failing is None)
    assert [name for name, met in summary["targets"].items() if not met] == ([failing] if failing else [])
    assert "the last delivery sent at " in printed.getvalue()
    assert "drain time: 211.2 s after the burst" in printed.getvalue()
    assert "gateway peak rate: " in printed.getvalue()
    assert "$3.56 per million deliveries" in printed.getvalue()
