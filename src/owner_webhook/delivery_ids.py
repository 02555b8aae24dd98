"""A sender's delivery id as the function logs it and keys its deduplication records by."""

from __future__ import annotations

import hashlib
import re

from owner_webhook.phone import plain

MAX_CHARS = 128
# Seven digits, separated at most by what a phone is written with: any number written with its country
# code (the shortest personal numbers, Niue's and Tokelau's, have seven digits with it), most national
# ones, and dates. Digits in any script: the phone parser reads them all.
_PHONE_LIKE = re.compile(r"\d(?:[\s\-./()]*\d){6}")
_HASHED = re.compile(r"sha256:[0-9a-f]{64}")


def bounded(delivery_id: str) -> str:
    """The id when it is short, printable and holds no phone-like digits; else "sha256:" and its digest.

    The same id always gives the same result, so a hashed id still deduplicates, and an id this returned
    is returned unchanged (the retry worker bounds the ids it reads again).
    """
    if len(delivery_id) <= MAX_CHARS and delivery_id.isprintable() and not _PHONE_LIKE.search(plain(delivery_id)):
        return delivery_id
    if _HASHED.fullmatch(delivery_id):
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()
