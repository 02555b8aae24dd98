"""The registry of webhook sources, by the name in the route /webhooks/{source}.

Every source is a recipe: the presets (presets.py) and the deployment's own, one JSON file each in
owner_webhook/recipes/ (<name>.json, bundled by `sam build`). A file may take a preset and change some
of its fields ("extends"); one named like a preset replaces it. A recipe that does not validate is
logged once and its route answers 503 invalid_setting; every other source keeps working.
"""

from __future__ import annotations

import json
import re
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

__all__ = ["NAMES", "RECIPES", "Source", "get_source", "registry"]

# The deployment's own recipes; `sam build` bundles the package with them.
RECIPES = Path(__file__).resolve().parent.parent / "recipes"
# A route segment, and a name that fits a log line and a metric dimension.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# The senders whose recipe needs some code beside it.
_CODE: dict[str, type[RecipeSource]] = {"jotform": Jotform, "wufoo": Wufoo}


def registry(typeform_phone_ref: str | None = None, recipes: Path | None = None) -> dict[str, Source]:
    """Every source by its name in the route, the presets first, then the deployment's own recipes."""
    documents: dict[str, Any] = dict(PRESETS)
    documents.update(_recipe_files(RECIPES if recipes is None else recipes))
    sources: dict[str, Source] = {}
    for name, document in documents.items():
        try:
            recipe = parse(name, _extended(name, document))
        except RecipeError as error:
            # Once per instance: the registry is built once and kept while the function is warm.
            logger.warning("recipe invalid: its route answers 503 invalid_setting", recipe=name, field=error.field)
            sources[name] = UnusableSource(name, str(error))
            continue
        if name == "typeform" and typeform_phone_ref:
            # A form with several phone questions names the one to use by its field.ref (TYPEFORM_PHONE_REF).
            recipe = recipe.with_phone((_typeform_answer(typeform_phone_ref),))
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


def _recipe_files(directory: Path) -> dict[str, Any]:
    """Each <name>.json of `directory`, parsed; a file that is not JSON is kept as its problem."""
    found: dict[str, Any] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        name = path.stem
        if not _NAME.fullmatch(name):
            logger.warning("recipe file ignored: name it <a-z0-9_->.json, as in its route", file=path.name[:60])
            continue
        try:
            found[name] = json.loads(path.read_bytes())
        except (ValueError, RecursionError) as error:
            found[name] = _NotJson(str(error))
    return found


class _NotJson(str):
    """A recipe file that does not parse: kept so that its route names the problem."""


def _extended(name: str, document: Any) -> Any:
    if isinstance(document, _NotJson):
        raise RecipeError("(file)", f"{name}.json is not valid JSON: {document}")
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


NAMES = (*PRESETS, *(name for name in _recipe_files(RECIPES) if name not in PRESETS))
