"""What the function logs: one outcome line per request, and no phone, key, token or body in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.integration.conftest import API_KEY, TOKENS, webhook

Logs = Callable[[], list[dict[str, Any]]]
WRITTEN = "0555 123 45 67"
SECRETS = [API_KEY, *TOKENS.values(), "wrong-token-123"]
PHONE_FORMS = ["+905551234567", "905551234567", "05551234567", "5551234567", WRITTEN, "555 123 45 67"]


@pytest.mark.parametrize("source", ["zapier", "generic"])
@pytest.mark.parametrize(
    ("case", "fields", "token", "fault", "outcome", "status"),
    [
        ("success", {"phone": WRITTEN}, "default", None, "owner_created", 200),
        ("refusal", {"phone": WRITTEN + "9999"}, "default", None, "invalid_phone", 422),
        ("unauthenticated", {"phone": WRITTEN}, "wrong-token-123", None, "unauthenticated", 401),
        ("gateway failure", {"phone": WRITTEN}, "default", Fault(status=502), "upstream_unavailable", 503),
    ],
)
def test_one_outcome_line_without_personal_data_or_secrets(
    sandbox: Sandbox,
    logs: Logs,
    source: str,
    case: str,
    fields: dict[str, str],
    token: str,
    fault: Fault | None,
    outcome: str,
    status: int,
) -> None:
    if fault:
        sandbox.gateway.inject(fault)
    assert webhook(source, fields, token=token).status == status
    lines = logs()
    [line] = lines
    assert (line["message"], line["outcome"], line["status"], line["source"]) == (
        "webhook answered",
        outcome,
        status,
        source,
    )
    assert line["correlation_id"]
    assert isinstance(line["total_ms"], float)
    if outcome in ("owner_created", "upstream_unavailable"):
        assert line["phone"] == "+90555*****67"
        assert line["delivery_id"]
        assert isinstance(line["gateway_latency_ms"], float)
        assert line["gateway_status"] == (200 if outcome == "owner_created" else 502)
    text = str(lines)
    for secret in SECRETS:
        assert secret not in text
    for written in PHONE_FORMS:
        assert written not in text
