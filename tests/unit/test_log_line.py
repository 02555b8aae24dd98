"""The function's log line is the line Powertools' own formatter writes, key for key and in its order, for every
kind of record the function logs (docs/operations.md, "Logs"; docs/performance.md says why it is built directly).
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from owner_webhook.observability import LogLine

KEYS = {
    "service": "owner-webhook",
    "sampling_rate": None,
    "cold_start": False,
    "function_name": "owner-webhook-webhook",
    "function_memory_size": 256,
    "function_arn": "arn:aws:lambda:eu-central-1:123456789012:function:owner-webhook-webhook",
    "function_request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678",
    "correlation_id": "Zx3lQjTDFiAEJ8g=",
}
EXTRAS: list[dict[str, Any]] = [
    {"source": "zapier", "delivery_id": "hmac:bhdmgkmkhhokalfkgppmldfciflkldgl", "phone": "+90555*****01",
     "phone_ref": "ref:hhedgbbdpdoghebn", "gateway_status": 200, "gateway_latency_ms": 0.61, "gateway_attempts": 1,
     "outcome": "owner_created", "status": 200, "total_ms": 0.95},
    {"source": "unknown", "outcome": "not_found", "status": 404, "problem": None, "after_lapsed_claim": True},
    {"recipe": "mine", "field": "credential.token", "text": "ünïcode ✓", "when": object()},
    {},
]  # fmt: skip


def _record(level: int, extra: dict[str, Any]) -> logging.LogRecord:
    where = "/var/task/owner_webhook/handler.py"
    return logging.getLogger("owner-webhook").makeRecord(
        "owner-webhook", level, where, 73, "webhook answered", (), None, "lambda_handler", extra
    )


@pytest.mark.parametrize("extra", EXTRAS)
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.ERROR])
@pytest.mark.parametrize("trace", [None, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"])
def test_the_line_is_powertools_line(
    level: int, extra: dict[str, Any], trace: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if trace:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    else:
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    ours, theirs = LogLine(), LambdaPowertoolsFormatter()
    ours.append_keys(**KEYS)
    theirs.append_keys(**KEYS)
    record = _record(level, extra)
    assert ours.format(record) == theirs.format(record)


def test_a_logger_with_it_keeps_no_key_from_the_invocation_before() -> None:
    stream = io.StringIO()
    logger = Logger(service="log-line-test", logger_formatter=LogLine(), logger_handler=logging.StreamHandler(stream))

    class Context:
        function_name, function_version, memory_limit_in_mb = "f", "$LATEST", 256
        invoked_function_arn, aws_request_id = "arn:aws:lambda:eu-central-1:123456789012:function:f", "r"

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: object) -> None:
        if event.get("id"):
            logger.set_correlation_id(event["id"])
        logger.info("webhook answered", **event)

    handler({"id": "first", "a": 1}, Context())
    handler({"b": 2}, Context())
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["correlation_id"], first["a"], first["service"]) == ("first", 1, "log-line-test")
    assert "correlation_id" not in second and "a" not in second and second["b"] == 2
    assert second["service"] == "log-line-test" and second["function_name"] == "f"
