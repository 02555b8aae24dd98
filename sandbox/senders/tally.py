"""Tally: FORM_RESPONSE with its fields; HMAC-SHA256 of the body, base64, in Tally-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from typing import Any

from sandbox import local_secrets
from sandbox.events import HttpRequest
from sandbox.senders._common import JSON_TYPE, json_body

SECRET = local_secrets.webhook_secret("tally")
TIMED = False


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    field = {"key": "question_p", "label": "Phone", "type": "INPUT_PHONE_NUMBER", "value": phone}
    body = {"eventId": delivery_id, "eventType": "FORM_RESPONSE", "data": {"fields": [field]}}
    return json_body(body), dict(JSON_TYPE)


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    signature = base64.b64encode(hmac.new(secret.encode(), request.body, hashlib.sha256).digest()).decode()
    return replace(request, headers={**request.headers, "tally-signature": signature})


def attempts(status: int) -> int:
    return 6  # the first, then after 5 min, 30 min, 1 h, 6 h and 24 h
