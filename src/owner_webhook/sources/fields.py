"""Finding a phone among fields whose names the user chose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PHONE_NAME = re.compile(r"phone|telefon|gsm|mobile|cell", re.IGNORECASE)


def phone_like(fields: Mapping[str, Any]) -> str | None:
    """The first non-empty value whose key is named like a phone (phone, telefon, gsm, mobile, cell)."""
    for key, value in fields.items():
        if not _PHONE_NAME.search(str(key)):
            continue
        written = as_text(value)
        if written:
            return written
    return None


def as_text(value: Any) -> str | None:
    """A field value as written text: strings as they are, whole numbers (Webflow sends some) as digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value
    return None


def at(document: Any, *keys: str) -> Any:
    """The value at `keys` down nested objects, or None where a step is missing or not an object."""
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def id_at(document: Any, *keys: str) -> str | None:
    """A non-empty string id at `keys` (see `at`), or None."""
    value = at(document, *keys)
    return value if isinstance(value, str) and value else None
