"""Any backend or tool: JSON or form fields; Standard Webhooks signatures, or a Bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook.request import WebhookRequest, read_fields
from owner_webhook.sources import fields, standard_webhooks, tokens


class Generic:
    name = "generic"
    acknowledges_refusals = False
    retries = True

    def verify(self, request: WebhookRequest, secret: str) -> None:
        if secret.startswith(standard_webhooks.PREFIX):
            standard_webhooks.verify(request, secret)
        else:
            tokens.require(tokens.bearer(request), secret)

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        return read_fields(request)

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        data = payload.get("data")
        return fields.phone_like(payload) or (fields.phone_like(data) if isinstance(data, Mapping) else None)

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return request.header("webhook-id") or request.header("idempotency-key") or request.body_digest
