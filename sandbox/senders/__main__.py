"""`python -m sandbox.senders events <source>...`: a preset's events, from its sample, with their expectations.

Writes events/<source>-success.json (its sample with a phone of its own, signed), -missing-phone.json
(the same without a phone) and -bad-signature.json (signed with another secret), and their rows in
events/expected.json. Timed signatures are signed again when the demo and the tests send them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sandbox.events import HttpRequest, http_api_event
from sandbox.senders import local_secret, payload, sign

EVENTS = Path(__file__).resolve().parent.parent.parent / "events"
WHEN = 1767225600  # 2026-01-01, as the other events
FIRST_PHONE = 4600  # +90 555 123 46 00 on: a phone of its own per preset, so that each creates an owner


def events(source: str, number: int) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each event file's name, with its event and its expectation."""
    digits = f"{FIRST_PHONE + number:04d}"
    written = f"+90 555 123 {digits[:2]} {digits[2:]}"
    cases = {
        "success": (
            written,
            local_secret(source),
            {"status": 200, "code": "owner_created", "owner": f"+90555123{digits}"},
        ),
        "missing-phone": (None, local_secret(source), {"status": 200, "code": "missing_phone"}),
        "bad-signature": (written, "not-the-secret-0000000000000000000000", {"status": 401, "code": "unauthenticated"}),
    }
    if source == "formbricks":  # a Standard Webhooks secret, but not the one set
        cases["bad-signature"] = (written, "whsec_bm90LXRoZS1zZWNyZXQtb2YtZm9ybWJyaWNrcw==", cases["bad-signature"][2])
    written_events = {}
    for case, (phone, secret, expected) in cases.items():
        body, headers = payload(source, phone, f"{source}-{case}")
        request = sign(source, HttpRequest("POST", f"/webhooks/{source}", body, headers), secret, WHEN)
        written_events[f"{source}-{case}.json"] = (_event(request, source, case), expected)
    if source == "shopify":  # Shopify's own sample as published: 555-555-5555 in Ottawa is no Canadian number
        body, headers = _published(source)
        request = sign(source, HttpRequest("POST", f"/webhooks/{source}", body, headers), local_secret(source), WHEN)
        written_events["shopify-sample.json"] = (
            _event(request, source, "sample"),
            {"status": 200, "code": "invalid_phone"},
        )
    if source == "shopify":  # another topic, with a phone: its event filter takes customers/create only
        body, headers = payload(source, written, f"{source}-other-topic")
        other = HttpRequest("POST", f"/webhooks/{source}", body, {**headers, "x-shopify-topic": "orders/create"})
        written_events["shopify-other-topic.json"] = (
            _event(sign(source, other, local_secret(source), WHEN), source, "other-topic"),
            {"status": 200, "code": "ignored"},
        )
    if source == "woocommerce":  # the unsigned ping of a new webhook: 200, and nothing forwarded
        ping = HttpRequest(
            "POST", f"/webhooks/{source}", b"webhook_id=3", {"content-type": "application/x-www-form-urlencoded"}
        )
        written_events["woocommerce-ping.json"] = (
            _event(ping, source, "ping"),
            {"status": 200, "code": "ignored"},
        )
    return written_events


def _published(source: str) -> tuple[bytes, dict[str, str]]:
    """The sample's payload as its origin gives it, with its headers."""
    from sandbox.senders import _recipe

    sample = _recipe.load(source)
    assert sample is not None
    headers = {k.lower(): v for k, v in sample.sample["headers"].items()}
    return json.dumps(sample.sample["payload"], ensure_ascii=False).encode(), headers


def _event(request: HttpRequest, source: str, case: str) -> dict[str, Any]:
    event = http_api_event(request)
    event["requestContext"].update(requestId=f"local-{source}-{case}", time="01/Jan/2026:00:00:00 +0000")
    event["requestContext"]["timeEpoch"] = WHEN * 1000
    return event


def main(sources: list[str]) -> None:
    from owner_webhook.sources.presets import PRESETS

    expected = json.loads((EVENTS / "expected.json").read_text())
    for source in sources:
        for name, (event, want) in events(source, list(PRESETS).index(source)).items():
            (EVENTS / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
            expected[name] = want
    rows = [f"  {json.dumps(name)}: {json.dumps(want)}" for name, want in expected.items()]
    (EVENTS / "expected.json").write_text("{\n" + ",\n".join(rows) + "\n}\n")


if __name__ == "__main__":
    if sys.argv[1:2] != ["events"] or len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[2:])
