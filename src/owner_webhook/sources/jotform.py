"""Jotform: its recipe, and the code a recipe cannot say: the answers are JSON inside the rawRequest field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from owner_webhook.errors import MalformedBodyError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources.fields import as_text
from owner_webhook.sources.recipe import RecipeSource

# Answers are keyed q<N>_<name>; the other keys of rawRequest are Jotform's bookkeeping.
_PHONE_ANSWER = re.compile(r"^q\d+_.*phone", re.IGNORECASE)


class Jotform(RecipeSource):
    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        fields = super().read(request)
        raw = fields.get("rawRequest")
        if raw is None:
            return {**fields, "rawRequest": {}}
        try:
            answers = json.loads(raw)
        except (ValueError, RecursionError):
            raise MalformedBodyError("rawRequest is not valid JSON") from None
        if not isinstance(answers, dict):
            raise MalformedBodyError("rawRequest must be a JSON object")
        return {**fields, "rawRequest": answers}

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        answers = payload.get("rawRequest")
        for key, value in answers.items() if isinstance(answers, Mapping) else []:
            if _PHONE_ANSWER.match(str(key)):
                written = _widget_text(value)
                if written:
                    return written
        return None


def _widget_text(value: Any) -> str | None:
    """A phone widget's value: {"full": ...}, {"area": ..., "phone": ...} joined, or plain text."""
    if isinstance(value, Mapping):
        if as_text(value.get("full")):
            return as_text(value.get("full"))
        parts = [as_text(value.get(part)) for part in ("area", "phone")]
        joined = " ".join(part for part in parts if part)
        return joined or None
    return as_text(value)
