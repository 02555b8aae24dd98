"""Wufoo: its recipe, and the code a recipe cannot say: which FieldN is the phone is in FieldStructure, a JSON
text field that Wufoo sends when the webhook's metadata option is on."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from owner_webhook.sources.fields import Found, as_text
from owner_webhook.sources.recipe import RecipeSource


class Wufoo(RecipeSource):
    def phones(self, payload: Mapping[str, Any]) -> Iterator[Found]:
        for key in _phone_fields(payload.get("FieldStructure")):
            written = as_text(payload.get(key))
            if written:
                yield Found(written, "FieldStructure's phone field")
        yield from super().phones(payload)  # then the recipe's places (a field named like a phone)


def _phone_fields(structure: Any) -> list[str]:
    """The IDs (Field2, ...) of the phone fields FieldStructure describes; none when it is absent or odd."""
    if not isinstance(structure, str):
        return []
    try:
        described = json.loads(structure)
    except (ValueError, RecursionError):
        return []
    found = described.get("Fields") if isinstance(described, Mapping) else None
    return [
        field["ID"]
        for field in (found if isinstance(found, list) else [])
        if isinstance(field, Mapping) and field.get("Type") == "phone" and isinstance(field.get("ID"), str)
    ]
