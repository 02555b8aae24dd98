"""Places in a payload, written as text in a recipe: where the phone, its region and the delivery id are.

A place is dot-separated steps, each a key or one of:

- `~`, any key named like a phone (one of its words is a phone's: fields.names_a_phone);
- `*`, any key;
- a key followed by brackets on the list it holds, applied in order: `[]` every item, `[type=phone]`
  the items whose `type` is `phone` (the field may be dotted: `[field.ref=mobile]`), `[label~]` the items
  whose `label` is named like a phone, `[0]` the first of the items kept so far and `[-1]` the last.
  Brackets chain: `answers[type=phone_number][field.ref=mobile]`, `attendees[0]`.

`data[type=phone].value` is the `value` of the items of `data` whose `type` is `phone`. A place names
every value it reaches, in the payload's order; an index beyond the list reaches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from owner_webhook.sources.fields import as_text, names_a_phone

_FILTER = re.compile(r"\[(?:(?P<field>[^\]=~\[]+)(?:(?P<equals>=)(?P<value>[^\]]*)|(?P<like>~)))?\]")
_INDEX = re.compile(r"\[(?P<index>-?[0-9]{1,6})\]")
_STEP = re.compile(r"(?P<key>[^.\[\]]*)(?P<filters>(?:\[[^\]]*\])*)")


class PlaceError(ValueError):
    """A place that cannot be read; the message says what is wrong with it."""


class Filter(NamedTuple):
    field: tuple[str, ...] = ()  # () with no value: every item
    value: str | None = None
    like_phone: bool = False

    def kept(self, items: list[Any]) -> list[Any]:
        return [item for item in items if self.keeps(item)]

    def keeps(self, item: Any) -> bool:
        if not self.field:
            return True
        found = at(item, *self.field)
        if self.like_phone:
            return isinstance(found, str) and names_a_phone(found)
        return as_text(found) == self.value


class Index(NamedTuple):
    """One item of the list, by its position among the items kept so far: 0 the first, -1 the last."""

    position: int

    def kept(self, items: list[Any]) -> list[Any]:
        if -len(items) <= self.position < len(items):
            return [items[self.position]]
        return []  # beyond the list: not found, never an error


class Step(NamedTuple):
    key: str  # a key, "~" (named like a phone) or "*" (any)
    filters: tuple[Filter | Index, ...] = ()


class Place(NamedTuple):
    text: str
    steps: tuple[Step, ...]

    def values(self, document: Any) -> Iterator[Any]:
        """Every value this place reaches in `document`, in order."""
        return _walk(document, self.steps)

    def texts(self, document: Any) -> Iterator[str]:
        """Every value here that is text or a whole number (see fields.as_text), in order."""
        for value in self.values(document):
            written = as_text(value)
            if written:
                yield written

    def first_text(self, document: Any) -> str | None:
        """The first value here that is text or a whole number, or None."""
        return next(self.texts(document), None)


def parse(text: str) -> Place:
    """The place `text` names; raises PlaceError."""
    if not isinstance(text, str) or not text.strip():
        raise PlaceError("a place must be non-empty text such as billing.phone or data[type=phone].value")
    steps = []
    for part in _split(text):
        found = _STEP.fullmatch(part)
        if found is None or not found["key"]:
            raise PlaceError(f"{text!r}: cannot read the step {part!r} (a key, ~ or *, then any filters)")
        filters: list[Filter | Index] = []
        for raw in re.findall(r"\[[^\]]*\]", found["filters"]):
            index = _INDEX.fullmatch(raw)
            if index is not None:
                filters.append(Index(int(index["index"])))
                continue
            matched = _FILTER.fullmatch(raw)
            if matched is None or (matched["field"] and not (matched["equals"] or matched["like"])):
                raise PlaceError(
                    f"{text!r}: cannot read the brackets {raw!r} (use [], [0], [-1], [field=value] or [field~])"
                )
            field = tuple(matched["field"].split(".")) if matched["field"] else ()
            filters.append(Filter(field, matched["value"], bool(matched["like"])))
        steps.append(Step(found["key"], tuple(filters)))
    return Place(text, tuple(steps))


def _split(text: str) -> list[str]:
    """The steps of a place: split at the dots outside brackets ([field.ref=m] is one filter)."""
    parts, current, depth = [], "", 0
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _walk(document: Any, steps: tuple[Step, ...]) -> Iterator[Any]:
    if not steps:
        yield document
        return
    step, rest = steps[0], steps[1:]
    if not isinstance(document, Mapping):
        return
    if step.key == "~":
        reached = [value for key, value in document.items() if names_a_phone(str(key))]
    elif step.key == "*":
        reached = list(document.values())
    else:
        reached = [document[step.key]] if step.key in document else []
    for value in reached:
        for item in _filtered(value, step.filters):
            yield from _walk(item, rest)


def _filtered(value: Any, filters: tuple[Filter | Index, ...]) -> list[Any]:
    if not filters:
        return [value]
    if not isinstance(value, list):
        return []
    items = value
    for one in filters:
        items = one.kept(items)
    return items


def at(document: Any, *keys: str) -> Any:
    """The value at `keys` down nested objects, or None where a step is missing or not an object."""
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document
