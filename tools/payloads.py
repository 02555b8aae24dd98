"""What `make send` and `make check-recipe` read: a route's recipe (as the function's registry loads it), a
payload file (BODY) and a headers file (HEADERS).

The recipes are those of src/owner_webhook/recipes/ (what `sam build` bundles), or of the folder RECIPES names.
A headers file is a JSON object (`{"X-Shopify-Topic": "customers/create"}`) or `Name: value` lines, as a
sender's delivery log shows them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from owner_webhook.observability import logger
from owner_webhook.request import FORM, JSON, MULTIPART
from owner_webhook.sources.recipe import RecipeSource, UnusableSource
from tools.stack import ToolError

# The function refuses bodies over MAX_BODY_BYTES (256 KiB by default, 6 MiB at most): a file far bigger is no payload.
MAX_FILE_BYTES = 6 * 1024 * 1024


def recipes_folder(given: str | None) -> Path:
    """The folder of the recipes of your own: RECIPES (then read from there by everything in this process, as
    a deployment bundled with it would), or the one `sam build` bundles."""
    from owner_webhook import sources

    if given:
        sources.RECIPES = Path(given).resolve()
    return sources.RECIPES


def recipe_source(name: str, folder: Path) -> RecipeSource:
    """The route's source as the function loads it; raises ToolError naming the recipe's wrong field."""
    from owner_webhook import sources

    logger.setLevel("CRITICAL")  # the registry logs an invalid recipe: said below, once, in words
    # As the function builds it, TYPEFORM_PHONE_REF included (make serve's, where it is set).
    found = sources.registry(os.environ.get("TYPEFORM_PHONE_REF", "").strip() or None, folder).get(name)
    if isinstance(found, UnusableSource):
        raise ToolError(f"the recipe {name} ({folder / (name + '.json')}) is invalid: {found.problem}")
    if not isinstance(found, RecipeSource):
        known = ", ".join(sources.load(folder))
        raise ToolError(f"no route is named {name!r}: the routes are {known} (and {folder}/<name>.json)")
    return found


def read_file(path: str, what: str) -> bytes:
    """The bytes of `path`; raises ToolError."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ToolError(f"{what} {path} is over {MAX_FILE_BYTES // 1024 // 1024} MiB: no payload is")
        return file.read_bytes()
    except OSError as error:
        raise ToolError(f"{what} {path} cannot be read: {error.strerror}") from None


def headers_of(path: str | None) -> dict[str, str]:
    """The headers a file gives, by lower-case name; raises ToolError."""
    if not path:
        return {}
    text = read_file(path, "HEADERS").decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, Mapping):
        return {str(name).lower(): str(value) for name, value in document.items()}
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise ToolError(f"HEADERS {path}, line {number}: write `Name: value`, or give a JSON object")
        found[name.strip().lower()] = value.strip()
    return found


def with_content_type(body: bytes, headers: dict[str, str], source: RecipeSource) -> dict[str, str]:
    """The headers with a Content-Type: the one given, else what the body is (JSON, multipart, a form)."""
    if "content-type" in headers:
        return headers
    text = body.lstrip()
    if text.startswith((b"{", b"[")):
        media_type = JSON
    elif text.startswith(b"--") and MULTIPART in source.recipe.accept:
        boundary = text.split(b"\r\n", 1)[0].split(b"\n", 1)[0][2:].decode("latin-1").strip()
        media_type = f"{MULTIPART}; boundary={boundary}"
    else:
        media_type = FORM
    return {**headers, "content-type": media_type}
