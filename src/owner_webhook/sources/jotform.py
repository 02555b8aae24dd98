"""Jotform: its recipe, and the code a recipe cannot say: the answers are JSON inside the rawRequest field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from owner_webhook.errors import MalformedBodyError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources.fields import Found, as_text, names_a_phone
from owner_webhook.sources.recipe import RecipeSource

# Answers are keyed q<N>_<name> (the question's name, from its label); the other keys of rawRequest are
# Jotform's bookkeeping.
_ANSWER = re.compile(r"q[0-9]+_")
_PLACE = "rawRequest.q<N>_<named like a phone>"


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

    def phones(self, payload: Mapping[str, Any]) -> Iterator[Found]:
        answers = payload.get("rawRequest")
        for key, value in answers.items() if isinstance(answers, Mapping) else []:
            answer = _ANSWER.match(str(key))
            if answer and names_a_phone(str(key)[answer.end() :]):
                written = _widget_text(value)
                if written:
                    yield Found(written, _PLACE)


def _widget_text(value: Any) -> str | None:
    """A phone widget's value: {"full": ...}, {"area": ..., "phone": ...} joined, or plain text."""
    if isinstance(value, Mapping):
        if as_text(value.get("full")):
            return as_text(value.get("full"))
        parts = [as_text(value.get(part)) for part in ("area", "phone")]
        joined = " ".join(part for part in parts if part)
        return joined or None
    return as_text(value)
