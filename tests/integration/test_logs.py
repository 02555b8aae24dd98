"""What the function logs: one outcome line per request, and no phone, key, secret, token or signature.

The leak test drives every source of the registry through success, refusal, authentication failure and
gateway failure, each with its phone written several ways, and reads the captured log; a token in the
query (Jotform, Paperform, Elementor) or in the body (Wufoo) is among what it must never find.

The promise: docs/security.md and docs/operations.md (logs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from owner_webhook.phone import mask
from owner_webhook.sources import registry
from sandbox import senders
from sandbox.aws import LOCAL_SECRET, STANDARD_WEBHOOKS_SECRET
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests import numbering
from tests.integration.conftest import invoke_event

Logs = Callable[[], list[dict[str, Any]]]
SOURCES = registry()
WRITTEN = ["0555 123 45 67", "+90 (555) 123-45-67", "905551234567", "05551234567"]
NEVER = [
    "905551234567",
    "5551234567",
    "555 123 45 67",
    "123 45 67",
    "51234567",
    LOCAL_SECRET["api_key"],
    STANDARD_WEBHOOKS_SECRET,
    *LOCAL_SECRET["webhook_secrets"].values(),
    "wrong-secret-123",
]
CASES = {
    # case: (phone suffix that makes it a refusal, secret, fault, outcome, status for automation / forms)
    "success": ("", None, None, "owner_created", (200, 200)),
    "refusal": ("9999", None, None, "invalid_phone", (422, 200)),
    "unauthenticated": ("", "wrong-secret-123", None, "unauthenticated", (401, 401)),
    "gateway failure": ("", None, Fault(status=502), "upstream_unavailable", (503, 503)),
}
FIELDS = {"source", "delivery_id", "outcome", "status", "total_ms", "correlation_id", "level", "timestamp"}
FORWARDED = {"phone", "gateway_status", "gateway_latency_ms", "gateway_attempts"}
# Fields the platform fills in, not from the request: random ids, the time, the function's ARN.
ASSIGNED = {"correlation_id", "function_request_id", "function_arn", "timestamp"}


def _signatures(request: HttpRequest) -> list[str]:
    auth = ("signature", "authorization", "token")
    values = [v for k, v in request.headers.items() if any(a in k.lower() for a in auth)]
    values += [v for _, v in parse_qsl(request.query)]  # Jotform's, Paperform's, Elementor's token
    return [part for value in values for part in value.replace(",", " ").split() if len(part) > 8]


@pytest.mark.parametrize("source", senders.SOURCES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_no_personal_data_or_secret_in_the_logs_and_one_outcome_line_per_request(
    sandbox: Sandbox, logs: Logs, source: str, case: str
) -> None:
    suffix, secret, fault, outcome, statuses = CASES[case]
    status = statuses[1] if SOURCES[source].acknowledges_refusals else statuses[0]
    requests = [
        senders.request(source, written + suffix, delivery_id=f"{source}-{case}-{i}", secret=secret)
        for i, written in enumerate(WRITTEN)
    ]
    for request in requests:
        if fault:
            sandbox.gateway.inject(fault)
        assert invoke_event(http_api_event(request)).status == status
    lines = logs()
    assert len(lines) == len(requests)  # exactly one line per request
    for number, line in enumerate(lines):
        # The same phone, spelled four ways: its owner is created once, then it is known.
        existing = case == "success" and number > 0
        assert (line["message"], line["outcome"], line["status"], line["source"]) == (
            "webhook answered",
            "phone_existing" if existing else outcome,
            status,
            source,
        )
        forwarded = case in ("success", "gateway failure") and not existing
        expected = FIELDS | (FORWARDED if forwarded else {"phone"} if existing else set())
        if case == "unauthenticated":
            expected -= {"delivery_id"}  # nothing of an unauthenticated body is read
        assert expected <= set(line), expected - set(line)
        if "phone" in line:
            assert line["phone"] == "+90555*****67"
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for private in NEVER + [s for r in requests for s in _signatures(r)] + WRITTEN:
        assert private not in text, private


def test_control_characters_in_sender_values_cannot_forge_log_lines(sandbox: Sandbox, logs: Logs) -> None:
    forged = 'x"}\n{"level":"INFO","message":"webhook answered","outcome":"owner_created'
    request = senders.request("zapier", "0555 123 45 67")
    request = HttpRequest(request.method, request.path, request.body, {**request.headers, "idempotency-key": forged})
    assert invoke_event(http_api_event(request)).status == 200
    [line] = logs()
    assert line["delivery_id"].startswith("hmac:")  # not printable as it came: hashed
    assert "\n" not in line["delivery_id"]


def test_the_mask_hides_at_least_half_of_every_regions_numbers(sandbox: Sandbox, logs: Logs) -> None:
    # One personal number per region phonenumbers knows, sent in E.164 through the webhook; the mask
    # itself is checked over every region's example of every number type in tests/unit/test_phone.py.
    for region, e164 in numbering.PER_REGION:
        request = senders.request("zapier", e164, delivery_id=f"region-{region}")
        assert invoke_event(http_api_event(request)).status == 200
    lines = logs()
    assert [line["phone"] for line in lines] == [mask(e164) for _, e164 in numbering.PER_REGION]
    for (_region, e164), line in zip(numbering.PER_REGION, lines, strict=True):
        numbering.check_mask(e164, line["phone"])
        # Not anywhere else either; the ids and the time are left out: random hex and digits that may
        # hold a four-digit number by chance (and the ARN's made-up account id holds Malaysia's example).
        text = json.dumps({k: v for k, v in line.items() if k not in ASSIGNED})
        assert e164 not in text and numbering.national(e164) not in text, e164


@pytest.mark.parametrize("source", senders.SOURCES)
@pytest.mark.parametrize("delivery_id", ["+905551234567", "signup 0555 123 45 67", "+44 7911 123456", "+6834002"])
def test_a_phone_inside_a_delivery_id_is_logged_hashed(
    sandbox: Sandbox, logs: Logs, source: str, delivery_id: str
) -> None:
    # A Zap that maps the phone to Idempotency-Key, a form whose id field holds it: the id is the
    # deduplication key still (hashed the same way every time), but never logged as it came.
    request = senders.request(source, "0555 123 45 67", delivery_id=delivery_id)
    assert invoke_event(http_api_event(request)).code == "owner_created"
    assert invoke_event(http_api_event(request)).code == "owner_created"  # the retry: replayed, no new owner
    assert len(sandbox.gateway.owners) == 1
    first, retry = logs()
    assert first["delivery_id"] == retry["delivery_id"] != delivery_id
    assert first["delivery_id"].startswith("hmac:") and retry["outcome"] == "duplicate_replayed"
    text = json.dumps([{k: v for k, v in line.items() if k not in ASSIGNED} for line in (first, retry)])
    digits = "".join(ch for ch in delivery_id if ch.isdigit())
    for private in (delivery_id, digits, digits[-7:]):
        assert private not in text, private
