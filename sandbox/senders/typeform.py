"""Typeform: a form_response with typed answers; HMAC-SHA256 of the body in Typeform-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import replace
from typing import Any

from sandbox import local_secrets
from sandbox.events import HttpRequest
from sandbox.senders._common import JSON_TYPE, NAME, json_body

SECRET = local_secrets.webhook_secret("typeform")
TIMED = False


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    answers: list[dict[str, Any]] = [{"type": "text", "text": NAME, "field": {"id": "N", "ref": "name"}}]
    if phone is not None:
        answers.append({"type": "phone_number", "phone_number": phone, "field": {"id": "P", "ref": "phone"}})
    body = {
        "event_id": uuid.uuid4().hex,
        "event_type": "form_response",
        "form_response": {"token": delivery_id, "answers": answers},
    }
    return json_body(body), dict(JSON_TYPE)


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    digest = hmac.new(secret.encode(), request.body, hashlib.sha256).digest()
    signature = "sha256=" + base64.b64encode(digest).decode()
    return replace(request, headers={**request.headers, "typeform-signature": signature})


def attempts(status: int) -> int:
    return 300 if status in (429, 503, 408, 423) else 6  # 2-3 min apart for 10 h; else about 5 retries
