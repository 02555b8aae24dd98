"""Shared-token authentication for senders that cannot sign (Zapier, Make, Apps Script, backends)."""

from __future__ import annotations

import hmac

from owner_webhook.errors import UnauthenticatedError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources.signatures import utf8


def bearer(request: WebhookRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = (request.header("authorization") or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require(presented: str | None, secret: str) -> None:
    """Compare in constant time; raises UnauthenticatedError when missing or wrong."""
    if presented is None:
        raise UnauthenticatedError("no token: send Authorization: Bearer <token>")
    if not hmac.compare_digest(utf8(presented), secret.encode()):
        raise UnauthenticatedError("the token is wrong")
