"""What the signature checks share: the timestamp's freshness, and header text as bytes."""

from __future__ import annotations

import re
import time

from owner_webhook.errors import UnauthenticatedError

# Webflow, Stripe, HubSpot and Standard Webhooks allow five minutes of clock skew.
TOLERANCE_SECONDS = 300
# Seconds or milliseconds since 1970, in ASCII digits: str.isdigit() also takes "²" and other digits
# int() refuses, and int() refuses more than 4,300 digits.
_TIMESTAMP = re.compile(r"[0-9]{1,16}")


def utf8(text: str) -> bytes:
    """A header or query value as bytes; a lone surrogate (which only a hand-made event can carry) is kept
    as the bytes it would be, which no secret matches, instead of failing the request."""
    return text.encode("utf-8", "surrogatepass")


def require_fresh(timestamp: str | None, place: str, *, per_second: int = 1, tolerance: int = TOLERANCE_SECONDS) -> str:
    """The timestamp, if it is within `tolerance` seconds of now, either way; raises UnauthenticatedError.

    `per_second` is 1000 for millisecond timestamps. The senders' own libraries refuse only old ones; a
    timestamp from the future is refused too, since a clock that far ahead is no sender's.
    """
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp.strip()):
        raise UnauthenticatedError(f"no valid timestamp in {place}")
    age = time.time() - int(timestamp) / per_second
    if abs(age) > tolerance:
        raise UnauthenticatedError(f"the timestamp in {place} is more than {tolerance} s off: a replay?")
    return timestamp.strip()
