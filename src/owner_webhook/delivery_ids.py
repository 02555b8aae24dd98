"""A sender's delivery id: the form its records are keyed by, and the form it is logged in.

Logged as sent only in a format that cannot carry a phone: short, printable, and with at most six
digits of any script (every phone number has at least seven with its country code). Anything else (an
`Idempotency-Key` mapped to the phone, a UUID, a numeric submission id) is logged as `hmac:` and an
HMAC-SHA256 of it under the deployment's key, written in letters only: a log reader cannot compute it
(a plain hash of a phone can be found by trying every number), and it is itself a loggable id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from owner_webhook.phone import plain

MAX_CHARS = 128
MAX_LOGGED_DIGITS = 6
# Seven digits, separated at most by what a phone is written with: any number written with its country
# code, most national ones, and dates. Digits in any script: the phone parser reads them all.
_PHONE_LIKE = re.compile(r"\d(?:[\s\-./()]*\d){6}")
_HASHED = re.compile(r"sha256:[0-9a-f]{64}")
_LETTERS = str.maketrans("0123456789", "ghijklmnop")  # hex digits as letters: a-p


def normalized(delivery_id: str) -> str:
    """The id the records are keyed by (inside an HMAC) and a queued message carries; never logged.

    Short printable ids without phone-like digits as sent, others as "sha256:" and their digest (the
    form every earlier version stored and queued, so records and messages keep their keys). The same id
    always gives the same result, and a result is returned unchanged (the forwarder normalizes what it reads).
    """
    if len(delivery_id) <= MAX_CHARS and delivery_id.isprintable() and not _PHONE_LIKE.search(plain(delivery_id)):
        return delivery_id
    if _HASHED.fullmatch(delivery_id):
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()


def loggable(delivery_id: str, key: bytes) -> str:
    """The id as logged: as it is when it cannot carry a phone, else "hmac:" and its HMAC under `key`."""
    short = len(delivery_id) <= MAX_CHARS and delivery_id.isprintable()
    folded = delivery_id if delivery_id.isascii() else unicodedata.normalize("NFKC", delivery_id)  # ASCII: as it is
    if short and sum(map(str.isdigit, folded)) <= MAX_LOGGED_DIGITS:
        return delivery_id
    return "hmac:" + _keyed(delivery_id, key, 32)


def phone_ref(phone: str, key: bytes) -> str:
    """The E.164 phone as logged beside its mask: "ref:" and 16 letters of its HMAC under `key`. Only who
    holds the deployment's key (`make lookup`) can find a phone's log lines by it; no reader can reverse it."""
    return "ref:" + _keyed(phone, key, 16)


def kept_name(source: str, delivery_id: str, key: bytes) -> str:
    """A kept refusal's id (its object's name after `<source>/`): 24 letters of the HMAC of the source and the
    delivery id under `key`, the same for every retry of the delivery, and nothing anyone can read back."""
    return _keyed(f"{source}\0{delivery_id}", key, 24)


def _keyed(text: str, key: bytes, length: int) -> str:
    digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:length]
    return digest.translate(_LETTERS)
