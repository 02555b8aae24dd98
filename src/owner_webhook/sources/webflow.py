"""Webflow: `x-webflow-signature: <hex HMAC-SHA256 of "{timestamp}:{body}">`, timestamp in ms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook.request import JSON, WebhookRequest, read_fields
from owner_webhook.sources import fields, signatures


class Webflow:
    name = "webflow"
    # Webflow counts anything but 200 as a failure and deactivates the webhook after repeated ones.
    acknowledges_refusals = True
    retries = True

    def verify(self, request: WebhookRequest, secret: str) -> None:
        timestamp = signatures.require_fresh(
            request.header("x-webflow-timestamp"), "x-webflow-timestamp", per_second=1000
        )
        expected = signatures.hmac_sha256(secret.encode(), timestamp.encode() + b":" + request.body).hex()
        presented = request.header("x-webflow-signature")
        signatures.require_match(presented.lower() if presented else None, expected, "x-webflow-signature")

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        return read_fields(request, accept=(JSON,))

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        data = fields.at(payload, "payload", "data")
        return fields.phone_like(data) if isinstance(data, Mapping) else None

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return fields.id_at(payload, "payload", "id") or request.body_digest
