"""Standard Webhooks (standardwebhooks.com, v1): the signature scheme of `generic` with a `whsec_` secret."""

from __future__ import annotations

import base64
import binascii
import hmac

from owner_webhook.errors import UnauthenticatedError, WebhookSecretInvalidError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import signatures

PREFIX = "whsec_"


def verify(request: WebhookRequest, secret: str) -> None:
    """Check webhook-id, webhook-timestamp and webhook-signature; raises UnauthenticatedError.

    Any one `v1,` entry of the space-separated list may match: that is how senders rotate secrets.
    """
    message_id = request.header("webhook-id")
    if not message_id:
        raise UnauthenticatedError("no webhook-id header (Standard Webhooks)")
    timestamp = signatures.require_fresh(request.header("webhook-timestamp"), "webhook-timestamp")
    signed = signatures.utf8(f"{message_id}.{timestamp}.") + request.body
    signing_key = key(secret)
    # The secret's parse refuses these: a key of no bytes, or of zero bytes only, would let anyone sign.
    if not signing_key or not signing_key.strip(b"\0"):
        raise WebhookSecretInvalidError("webhook_secrets.generic is whsec_ without a base64 key after it")
    expected = signatures.b64(signatures.hmac_sha256(signing_key, signed)).encode()
    presented = [
        signatures.utf8(entry.partition(",")[2])
        for entry in (request.header("webhook-signature") or "").split()
        if entry.startswith("v1,")
    ]
    if not presented:
        raise UnauthenticatedError("no v1 entry in the webhook-signature header")
    # Compare against every entry, without stopping early, so timing says nothing about which matched.
    if not sum(hmac.compare_digest(candidate, expected) for candidate in presented):
        raise UnauthenticatedError("no webhook-signature entry matches")


def key(secret: str) -> bytes | None:
    """The HMAC key of a whsec_ secret: the base64 after the prefix; None when that is not base64."""
    encoded = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
