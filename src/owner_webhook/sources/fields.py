"""What a field's value is as written text, and which field names mean a phone."""

from __future__ import annotations

import re
from typing import Any

# The Webflow rule, also the automation tools' and any `~` of a recipe: a key named like a phone.
PHONE_NAME = re.compile(r"phone|telefon|gsm|mobile|cell", re.IGNORECASE)


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
