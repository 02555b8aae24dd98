"""Webhooks by Zapier (Make, Apps Script alike): flat fields and an Idempotency-Key; a Bearer token, or
X-Webhook-Token when the request carries that header."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sandbox import local_secrets
from sandbox.events import HttpRequest
from sandbox.senders._common import JSON_TYPE, fields, json_body

SECRET = local_secrets.webhook_secret("zapier")
TIMED = False


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    return json_body(fields(phone)), {**JSON_TYPE, "idempotency-key": delivery_id}


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    if "x-webhook-token" in request.headers:
        return replace(request, headers={**request.headers, "x-webhook-token": secret})
    return replace(request, headers={**request.headers, "authorization": f"Bearer {secret}"})


def attempts(status: int) -> int:
    return 1  # a Zap step, a Make scenario or a script sends once
