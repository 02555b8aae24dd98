"""Standard Webhooks (standardwebhooks.com, v1): how a `whsec_` secret becomes its HMAC key."""

from __future__ import annotations

import base64
import binascii

PREFIX = "whsec_"


def key(secret: str) -> bytes | None:
    """The HMAC key of a whsec_ secret: the base64 after the prefix; None when that is not base64."""
    encoded = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
