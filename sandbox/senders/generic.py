"""Your own backend: an event with the signup in `data`; Standard Webhooks signatures for a `whsec_`
secret (with the `standardwebhooks` package, the reference client), a Bearer token otherwise."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from sandbox import local_secrets
from sandbox.events import HttpRequest
from sandbox.senders._common import JSON_TYPE, fields, json_body

SECRET = local_secrets.webhook_secret("generic")
TIMED = False  # unless signed by Standard Webhooks: its webhook-timestamp tells (sandbox.senders.is_timed)


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    return json_body({"type": "signup.created", "data": fields(phone)}), {**JSON_TYPE, "idempotency-key": delivery_id}


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    if not secret.startswith("whsec_"):
        return replace(request, headers={**request.headers, "authorization": f"Bearer {secret}"})
    message_id = request.headers.get("webhook-id") or f"msg_{hashlib.sha256(request.body).hexdigest()[:24]}"
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(int(now), tz=UTC), request.body.decode())
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(now)), "webhook-signature": signature}
    return replace(request, headers={**request.headers, **headers})


def attempts(status: int) -> int:
    return 8  # a backend that retries on 503 and 409, as the README asks: the first and seven retries
