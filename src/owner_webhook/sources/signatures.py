"""HMAC signatures as the senders compute them, compared in constant time over the raw body bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from owner_webhook.errors import UnauthenticatedError

# Webflow and Standard Webhooks both allow five minutes of clock skew, in either direction.
TOLERANCE_SECONDS = 300
# Seconds or milliseconds since 1970, in ASCII digits: str.isdigit() also takes "²" and other digits
# int() refuses, and int() refuses more than 4,300 digits.
_TIMESTAMP = re.compile(r"[0-9]{1,16}")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def utf8(text: str) -> bytes:
    """A header or query value as bytes; a lone surrogate (which only a hand-made event can carry) is kept
    as the bytes it would be, which no secret matches, instead of failing the request."""
    return text.encode("utf-8", "surrogatepass")


def require_match(presented: str | None, expected: str, header: str) -> None:
    """Raises UnauthenticatedError unless `presented` equals `expected` (constant time)."""
    if not presented:
        raise UnauthenticatedError(f"no {header} header: is the signing secret set on the webhook?")
    if not hmac.compare_digest(utf8(presented.strip()), expected.encode()):
        raise UnauthenticatedError(f"the {header} signature does not match")


def require_fresh(timestamp: str | None, header: str, *, per_second: int = 1) -> str:
    """The timestamp, if it is within the tolerance of now; raises UnauthenticatedError.

    `per_second` is 1000 for millisecond timestamps.
    """
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp.strip()):
        raise UnauthenticatedError(f"no valid {header} header")
    age = time.time() - int(timestamp) / per_second
    if abs(age) > TOLERANCE_SECONDS:
        raise UnauthenticatedError(f"the {header} is more than {TOLERANCE_SECONDS // 60} minutes off: a replay?")
    return timestamp.strip()
