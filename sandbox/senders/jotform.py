"""Jotform: a urlencoded form with the answers as JSON in rawRequest; the token in the URL's query."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sandbox import local_secrets
from sandbox.events import HttpRequest

SECRET = local_secrets.webhook_secret("jotform")
TIMED = False


def payload(phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    answers = {"slug": "submit/1"} | ({"q4_phoneNumber": {"full": phone}} if phone is not None else {})
    form = {"submissionID": delivery_id, "formID": "1", "rawRequest": json.dumps(answers)}
    return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}


def sign(request: HttpRequest, secret: str, now: float) -> HttpRequest:
    params = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "token"]
    return replace(request, query=urlencode([*params, ("token", secret)]))


def attempts(status: int) -> int:
    return 1  # not known to retry
