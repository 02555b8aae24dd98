"""Signing requests as each sender does, for the demo, `make events` and the tests.

Written from the senders' documented recipes, independently of the function's own verification code,
and for Standard Webhooks with the `standardwebhooks` package, the reference signing client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from standardwebhooks.webhooks import Webhook

from sandbox.events import HttpRequest

# Sources whose signature covers a timestamp: their events must be signed again before sending.
TIMED = {"webflow"}


def sign(source: str, request: HttpRequest, secret: str, now: float | None = None) -> HttpRequest:
    """The request with the authentication `source` expects, made with `secret`."""
    now = time.time() if now is None else now
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = request.query
    body = request.body
    if source == "typeform":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        headers["typeform-signature"] = "sha256=" + base64.b64encode(digest).decode()
    elif source == "tally":
        headers["tally-signature"] = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    elif source == "webflow":
        timestamp = str(int(now * 1000))
        headers["x-webflow-timestamp"] = timestamp
        signed = timestamp.encode() + b":" + body
        headers["x-webflow-signature"] = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    elif source == "jotform":
        params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
        query = urlencode([*params, ("token", secret)])
    elif source == "generic" and secret.startswith("whsec_"):
        message_id = headers.get("webhook-id") or f"msg_{hashlib.sha256(body).hexdigest()[:24]}"
        moment = datetime.fromtimestamp(int(now), tz=UTC)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(int(now))
        headers["webhook-signature"] = Webhook(secret).sign(message_id, moment, body.decode())
    elif source == "zapier" and "x-webhook-token" in headers:
        headers["x-webhook-token"] = secret
    else:
        headers["authorization"] = f"Bearer {secret}"
    return HttpRequest(request.method, request.path, body, headers, query)


def is_timed(source: str, request: HttpRequest) -> bool:
    """Whether the request's signature covers a timestamp (and so goes stale)."""
    return source in TIMED or "webhook-timestamp" in {k.lower() for k in request.headers}
