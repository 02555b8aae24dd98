"""Webflow: form_submission; HMAC-SHA256 hex of `timestamp:body`, the timestamp in milliseconds beside it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from typing import Any

from sandbox import local_secrets
from sandbox.events import HttpRequest
from sandbox.senders._common import JSON_TYPE, NAME, json_body

SECRET = local_secrets.webhook_secret("webflow")
TIMED = True


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    data = {"Name": NAME} | ({"Phone Number": phone} if phone is not None else {})
    return json_body({"triggerType": "form_submission", "payload": {"id": delivery_id, "data": data}}), dict(JSON_TYPE)


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    timestamp = str(int(now * 1000))
    signature = hmac.new(secret.encode(), timestamp.encode() + b":" + request.body, hashlib.sha256).hexdigest()
    headers = {"x-webflow-timestamp": timestamp, "x-webflow-signature": signature}
    return replace(request, headers={**request.headers, **headers})


def attempts(status: int) -> int:
    return 4  # the first and three retries
