"""Tally: `Tally-Signature: <base64 HMAC-SHA256 of the body>`; the first INPUT_PHONE_NUMBER field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook.request import JSON, WebhookRequest, read_fields
from owner_webhook.sources import signatures
from owner_webhook.sources.fields import as_text, at, id_at


class Tally:
    name = "tally"
    acknowledges_refusals = True
    retries = True

    def verify(self, request: WebhookRequest, secret: str) -> None:
        expected = signatures.b64(signatures.hmac_sha256(secret.encode(), request.body))
        signatures.require_match(request.header("tally-signature"), expected, "Tally-Signature")

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        return read_fields(request, accept=(JSON,))

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        fields = at(payload, "data", "fields")
        for field in fields if isinstance(fields, list) else []:
            if isinstance(field, Mapping) and field.get("type") == "INPUT_PHONE_NUMBER":
                written = as_text(field.get("value"))
                if written:
                    return written
        return None

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return id_at(payload, "eventId") or request.body_digest
