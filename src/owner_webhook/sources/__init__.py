"""The registry of webhook sources, by the name in the route /webhooks/{source}.

Every source is a recipe: the presets (presets.py) and the deployment's own, one JSON file each in
owner_webhook/recipes/ (<name>.json, bundled by `sam build`). A file may take a preset and change some
of its fields ("extends"); one named like a preset replaces it. Whatever is wrong with one recipe file (not
JSON, not a valid recipe, a directory, a link to nothing, unreadable, not UTF-8, too big) is logged once per
instance, and its route alone answers 503 invalid_setting naming the recipe and the field; every other
source keeps working.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from owner_webhook.errors import UnknownSourceError
from owner_webhook.observability import logger
from owner_webhook.sources import places
from owner_webhook.sources.base import Source
from owner_webhook.sources.jotform import Jotform
from owner_webhook.sources.presets import PRESETS
from owner_webhook.sources.recipe import RecipeError, RecipeSource, UnusableSource, parse
from owner_webhook.sources.wufoo import Wufoo

__all__ = ["NAMES", "RECIPES", "Source", "get_source", "is_route_name", "load", "names", "registry"]

# The deployment's own recipes; `sam build` bundles the package with them.
RECIPES = Path(__file__).resolve().parent.parent / "recipes"
# A route segment, and a name that fits a log line and a metric dimension.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def is_route_name(name: object) -> bool:
    """Whether `name` can name a route (a preset, a recipe of the deployment's, now or before a change)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


# A recipe is a few hundred bytes; a file far bigger is not one, and is not read into memory.
MAX_RECIPE_BYTES = 64 * 1024
# The senders whose recipe needs some code beside it.
_CODE: dict[str, type[RecipeSource]] = {"jotform": Jotform, "wufoo": Wufoo}


def registry(typeform_phone_ref: str | None = None, recipes: Path | None = None) -> dict[str, Source]:
    """Every source by its name in the route, the presets first, then the deployment's own recipes."""
    sources = dict(load(RECIPES if recipes is None else recipes))
    typeform = sources.get("typeform")
    if typeform_phone_ref and isinstance(typeform, RecipeSource):
        # A form with several phone questions names the one to use by its field.ref (TYPEFORM_PHONE_REF).
        sources["typeform"] = type(typeform)(typeform.recipe.with_phone((_typeform_answer(typeform_phone_ref),)))
    return sources


@functools.cache
def load(directory: Path) -> Mapping[str, Source]:
    """The presets and `directory`'s recipe files, each read and validated once per instance: a recipe that
    cannot be used is logged here, once, and kept as an UnusableSource. Never raises for a recipe."""
    documents: dict[str, Any] = dict(PRESETS)
    for path in _files(directory, warn=True):
        try:
            documents[path.stem] = _read(path)
        except RecipeError as error:
            documents[path.stem] = error
    sources: dict[str, Source] = {}
    for name, document in documents.items():
        try:
            recipe = parse(name, _extended(name, document))
        except RecipeError as error:
            sources[name] = _unusable(name, error)
            continue
        except Exception as error:  # a recipe is the user's data: whatever it does to the parser fails its route only
            sources[name] = _unusable(name, RecipeError("(recipe)", f"cannot be read ({type(error).__name__})"))
            continue
        base = document.get("extends", name) if isinstance(document, Mapping) else name
        sources[name] = _CODE.get(base, RecipeSource)(recipe)
    return sources


def get_source(sources: Mapping[str, Source], name: str) -> Source:
    """The source registered under `name`; raises UnknownSourceError, or SettingError for an invalid recipe."""
    try:
        source = sources[name]
    except KeyError:
        known = ", ".join(sorted(sources))
        raise UnknownSourceError(f"no webhook source by that name; known: {known}") from None
    if isinstance(source, UnusableSource):
        raise source.refuse()
    return source


def _unusable(name: str, error: RecipeError) -> UnusableSource:
    logger.warning(
        "recipe invalid: its route answers 503 invalid_setting",
        recipe=name,
        field=error.field,
        problem=str(error)[:200],
    )
    return UnusableSource(name, str(error))


def _files(directory: Path, *, warn: bool = False) -> list[Path]:
    """The <name>.json entries of `directory`, by name (what they are is _read's question)."""
    try:
        entries = sorted(directory.glob("*.json")) if directory.is_dir() else []
    except OSError as error:  # the folder is bundled with the code: only a broken package gets here
        if warn:
            logger.warning("recipes folder cannot be listed: the presets only", problem=type(error).__name__)
        return []
    found = []
    for path in entries:
        if _NAME.fullmatch(path.stem):
            found.append(path)
        elif warn:
            logger.warning("recipe file ignored: name it <a-z0-9_->.json, as in its route", file=path.name[:60])
    return found


def _read(path: Path) -> Any:
    """What the recipe file holds, as JSON; raises RecipeError("(file)", ...) for anything else it may be."""
    name = path.name
    try:
        # Without O_NONBLOCK, opening a named pipe would wait for a writer forever.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise RecipeError("(file)", f"{name} is a link to nothing") from None
    except OSError as error:
        raise RecipeError("(file)", f"{name} cannot be opened ({error.strerror})") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise RecipeError("(file)", f"{name} is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise RecipeError("(file)", f"{name} is not a regular file")
        data = _read_at_most(descriptor, MAX_RECIPE_BYTES + 1)
    except OSError as error:
        raise RecipeError("(file)", f"{name} cannot be read ({error.strerror})") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError("(file)", f"{name} is over {MAX_RECIPE_BYTES // 1024} KiB: not a recipe")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecipeError("(file)", f"{name} is not UTF-8 text") from None
    except RecursionError:
        raise RecipeError("(file)", f"{name} is nested too deeply to be a recipe") from None
    except ValueError as error:
        raise RecipeError("(file)", f"{name} is not valid JSON: {error}") from None


def _read_at_most(descriptor: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(descriptor, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _extended(name: str, document: Any) -> Any:
    if isinstance(document, RecipeError):
        raise document
    if not isinstance(document, Mapping) or "extends" not in document:
        return document
    base = document["extends"]
    if not isinstance(base, str) or base not in PRESETS:
        raise RecipeError("extends", f"the name of a preset ({', '.join(PRESETS)})")
    return {**PRESETS[base], **{k: v for k, v in document.items() if k != "extends"}}


def _typeform_answer(ref: str) -> places.Place:
    answer = places.Step("answers", (places.Filter(("type",), "phone_number"), places.Filter(("field", "ref"), ref)))
    steps = (places.Step("form_response"), answer, places.Step("phone_number"))
    return places.Place(f"form_response.answers[type=phone_number][field.ref={ref}].phone_number", steps)


def names(directory: Path | None = None) -> tuple[str, ...]:
    """Every route of this instance's registry, valid recipe or not: a recipe added to the folder is a route once
    a new instance loads it."""
    return tuple(load(RECIPES if directory is None else directory))


# Every route, valid recipe or not, from the folder's listing alone: nothing is read at import.
NAMES = (*PRESETS, *(path.stem for path in _files(RECIPES) if path.stem not in PRESETS))
