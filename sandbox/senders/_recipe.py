"""A sender from its recipe: a preset's, with its sample (sandbox/senders/samples/<source>.json), or a recipe of
your own (owner_webhook/recipes/<name>.json), with a sample built from the recipe.

A preset's sample is a real payload (its `origin` says where it came from and what was edited), with where its
phone, its region and its delivery id are, the headers the sender sends and how many times it sends a failing
delivery. A recipe of your own gets a payload holding the phone at its first phone place, the first event its
filter takes and a delivery id at its first place, checked with the recipe's own reader. Either is signed by
sandbox/signer.py from the recipe the function parses.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from owner_webhook.sources.checks import Hmac
from owner_webhook.sources.places import Filter, Index, Place
from owner_webhook.sources.recipe import Recipe
from sandbox import local_secrets, signer
from sandbox.events import HttpRequest

SAMPLES = Path(__file__).resolve().parent / "samples"
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
Path_ = list[str | int]


class NoSampleError(LookupError):
    """A recipe of your own for which no sample can be built (its places, or a body only multipart)."""


@dataclass(frozen=True)
class RecipeSender:
    source: str
    sample: dict[str, Any]

    @property
    def recipe(self) -> Recipe:
        """The recipe the function reads for this route now (a recipe file may replace a preset)."""
        return parsed(self.source)

    @property
    def SECRET(self) -> str:  # noqa: N802 - the attribute every sender module has
        from owner_webhook import sources

        return local_secrets.webhook_secret(self.source, sources.load(sources.RECIPES).get(self.source))

    @property
    def TIMED(self) -> bool:  # noqa: N802
        return any(isinstance(c.check, Hmac) and c.check.timestamp is not None for c in self.recipe.credentials)

    def payload(self, phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        document = copy.deepcopy(self.sample["payload"])
        headers = {k.lower(): v for k, v in self.sample.get("headers", {}).items()}
        form = headers.get("content-type", "").startswith(FORM_TYPE)
        _put(document, self.sample["phone"], phone, remove=form)
        for region in self.sample.get("region", []):
            _put(document, region, "TR" if phone is not None else None, remove=form)
        where = self.sample.get("delivery_id")
        if isinstance(where, str):
            headers[where.removeprefix("header:").lower()] = delivery_id
        elif where is not None:
            _put(document, where, delivery_id)
        if form:
            return urlencode({k: v for k, v in document.items() if v is not None}).encode(), headers
        return json.dumps(document, ensure_ascii=False).encode(), headers

    def sign(self, request: HttpRequest, secret: str, now: float) -> HttpRequest:
        return signer.sign(request, self.recipe, secret, now)

    def attempts(self, status: int) -> int:
        return int(self.sample.get("attempts", 1))


def parsed(source: str) -> Recipe:
    """The recipe of `source` as the function's registry has it; raises LookupError."""
    from owner_webhook import sources
    from owner_webhook.sources.recipe import RecipeSource, UnusableSource

    found = sources.load(sources.RECIPES).get(source)
    if isinstance(found, UnusableSource):
        raise LookupError(f"the recipe {source} is invalid: {found.problem}")
    if not isinstance(found, RecipeSource):
        raise LookupError(f"no route is named {source!r}")
    return found.recipe


def load(source: str) -> RecipeSender | None:
    """The sender of a preset with a sample, or None."""
    sample = _sample(source)
    return None if sample is None else RecipeSender(source, sample)


@functools.cache
def _sample(source: str) -> dict[str, Any] | None:
    path = SAMPLES / f"{source}.json"
    if not path.is_file():
        return None
    sample: dict[str, Any] = json.loads(path.read_text())
    return sample


def of_recipe(source: str) -> RecipeSender:
    """The sender of a recipe of your own, with a sample built from the recipe; raises LookupError."""
    return RecipeSender(source, built(parsed(source)))


SAMPLE_PHONE = "+90 555 123 45 67"


def built(recipe: Recipe) -> dict[str, Any]:
    """A sample for `recipe`: the phone at its first phone place, the first event its filter takes, a delivery id
    at its first place; raises NoSampleError when the recipe's own places do not read them back."""
    document: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if recipe.events is not None:
        event, place = sorted(recipe.events.accept)[0], recipe.events.place
        if place.kind == "header":
            headers[place.name] = event
        elif place.kind == "body" and place.body_place is not None:
            _make(document, place.body_place, event)
    sample: dict[str, Any] = {"origin": f"built from the recipe {recipe.name}", "attempts": 1}
    for where in recipe.delivery_id[:1]:
        if where.kind == "header":
            sample["delivery_id"] = f"header:{where.name}"
        elif where.kind == "body" and where.body_place is not None:
            sample["delivery_id"] = _make(document, where.body_place, "sample-delivery")
    sample["phone"] = _make(document, recipe.phone[0], SAMPLE_PHONE)
    if "application/json" in recipe.accept:
        headers["content-type"] = JSON_TYPE
    elif FORM_TYPE in recipe.accept and all(isinstance(value, str) for value in document.values()):
        headers["content-type"] = FORM_TYPE
    else:
        raise NoSampleError(f"no sample can be built for {recipe.name}: give BODY=<a payload file>")
    if recipe.phone[0].first_text(document) != SAMPLE_PHONE:
        raise NoSampleError(f"no sample can be built from {recipe.phone[0].text!r}: give BODY=<a payload file>")
    return {**sample, "headers": headers, "payload": document}


def _make(document: dict[str, Any], place: Place, value: Any) -> Path_:
    """Put `value` where `place` reads it, making the objects and lists on the way; the path to it."""
    path: Path_ = []
    at: Any = document
    for number, step in enumerate(place.steps):
        key = "phone" if step.key == "~" else "value" if step.key == "*" else step.key
        last = number == len(place.steps) - 1
        path.append(key)
        if not step.filters:
            if last:
                at[key] = value
                continue
            at = at.setdefault(key, {})
            if not isinstance(at, dict):
                raise NoSampleError(f"no sample can be built from {place.text!r}: give BODY=<a payload file>")
            continue
        item: Any = value if last else {}
        for kept in step.filters:
            if isinstance(kept, Filter) and kept.field and isinstance(item, dict):
                _put_new(item, list(kept.field), "Phone" if kept.like_phone else kept.value)
        items = at.setdefault(key, [])
        wanted = next((f.position for f in step.filters if isinstance(f, Index) and f.position > 0), 0)
        while len(items) < wanted:
            items.append(copy.deepcopy(item))
        items.append(item)
        path.append(len(items) - 1)
        at = item
    return path


def _put_new(document: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        document = document.setdefault(key, {})
    document[keys[-1]] = value


def _put(document: Any, path: Path_, value: Any, *, remove: bool = False) -> None:
    *parents, last = path
    for key in parents:
        document = document[key]
    if value is None and remove:
        document.pop(last, None)
    else:
        document[last] = value
