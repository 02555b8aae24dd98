"""Webhooks by Zapier (and Make, Apps Script): flat JSON or form fields, a shared token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook.request import WebhookRequest, read_fields
from owner_webhook.sources import fields, tokens


class Zapier:
    name = "zapier"
    acknowledges_refusals = False
    retries = False

    def verify(self, request: WebhookRequest, secret: str) -> None:
        tokens.require(tokens.bearer(request) or request.header("x-webhook-token"), secret)

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        return read_fields(request)

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        return fields.phone_like(payload)

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return request.header("idempotency-key") or request.body_digest
