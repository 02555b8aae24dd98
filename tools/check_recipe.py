"""`make check-recipe NAME=<route> BODY=<file> [HEADERS=<file>] [REGION_CODE=..]`: what a route's recipe reads
from a payload, without sending it: whether its event filter takes it, each phone place tried and the phone it
finds (masked, in E.164), its region and where that came from, where the delivery id came from, and the answer
the sender would get. It runs the function's own code on the payload (the registry, the source's reading,
`delivery.find_phone`, the outcomes' answers); the credential is not checked (make send signs with it). An
invalid recipe is said with the field that is wrong. Exit status: 0 when the recipe reads a phone or the
event is one it ignores, 1 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from owner_webhook import outcomes
from owner_webhook.delivery import find_phone
from owner_webhook.errors import InvalidPhoneError, MalformedBodyError, RefusedError, UnsupportedMediaTypeError
from owner_webhook.outcomes import Result
from owner_webhook.phone import mask, to_e164
from owner_webhook.request import WebhookRequest
from owner_webhook.settings import Settings
from owner_webhook.sources.checks import RequestPlace
from owner_webhook.sources.recipe import RecipeSource
from sandbox import signer
from tools import payloads
from tools.stack import ToolError


def report(
    source: RecipeSource,
    body: bytes,
    headers: Mapping[str, str],
    region: str,
    max_body_bytes: int = Settings.max_body_bytes,
) -> tuple[list[tuple[str, str]], Result]:
    """What the recipe reads from the payload, as (what, found) rows, and the result the sender would get."""
    recipe = source.recipe
    rows = [("recipe", f"{recipe.name}: {recipe.description}" if recipe.description else recipe.name)]
    rows.append(("credential", f"{signer.described(recipe)}: not checked here (make send signs with it)"))
    request = WebhookRequest(body, {k.lower(): v for k, v in headers.items()}, {})
    if recipe.ping is not None and recipe.ping.matches(body):
        rows.append(("ping", "the sender's unsigned test request: answered without a credential, forwarded nowhere"))
        return rows, Result(outcomes.IGNORED)
    if len(body) > max_body_bytes:  # as the function refuses it, before anything is read
        rows.append(("body", f"{len(body)} bytes, over MAX_BODY_BYTES ({max_body_bytes})"))
        return rows, Result(outcomes.PAYLOAD_TOO_LARGE)
    read = functools.cache(lambda: source.read(request))
    try:
        taken = source.accepts(request, read)  # as the function: the body is read only if the filter needs it
        if taken:
            payload = read()
    except (MalformedBodyError, UnsupportedMediaTypeError) as unreadable:
        rows.append(("body", f"{request.media_type or 'no Content-Type'}: {unreadable.message}"))
        return rows, Result(unreadable.outcome, unreadable.message)
    rows.append(("event", _event(source, request, read, taken)))
    if not taken:
        return rows, Result(outcomes.IGNORED)
    rows.append(("body", f"{request.media_type or 'no Content-Type'}, read"))
    rows += list(_tried(source, payload, region))
    fields: dict[str, Any] = {}
    try:
        phone = find_phone(source, payload, region, fields)
    except RefusedError as refusal:
        rows.append(("phone", f"none: {refusal.code} ({refusal.message})"))
        return rows, Result(refusal.outcome, refusal.message, acknowledges_refusals=source.acknowledges_refusals)
    stated = source.region_found(payload)
    rows.append(("phone", f"{mask(phone)}, from {fields['phone_place']}"))
    default = f"{region}, the default (DEFAULT_PHONE_REGION): the payload states none"
    rows.append(("region", f"{stated[0]}, from {stated[1]}" if stated else default))
    _, place = source.delivery_id_found(request, payload)
    rows.append(("delivery id", f"from {place}" if place else "the SHA-256 of the body (no place of it holds one)"))
    return rows, Result(outcomes.OWNER_CREATED)


def _event(source: RecipeSource, request: WebhookRequest, payload: Callable[[], Mapping[str, Any]], taken: bool) -> str:
    events = source.recipe.events
    if events is None:
        return "no event filter: every event is taken"
    where = _place(events.place)
    named = events.place.read(request, payload)
    accepted = ", ".join(sorted(events.accept))
    if named is None and taken:
        return f"{where} names none: taken, as every delivery without it (the filter takes {accepted})"
    if named is None:  # there, but no event name: nothing, a number, a list, an object, null
        return f"{where} holds no event name: ignored (the filter takes {accepted})"
    return f"{where} = {named}: " + ("taken" if taken else f"ignored (the filter takes {accepted})")


def _place(place: RequestPlace) -> str:
    return place.name if place.kind == "body" else place.label


def _tried(source: RecipeSource, payload: Mapping[str, Any], region: str) -> Iterator[tuple[str, str]]:
    """Each value the phone places hold, in order, and what it is: the first valid number is the phone."""
    found = list(source.phones(payload))
    if not found:
        places = ", ".join(place.text for place in source.recipe.phone)
        yield "phone places", f"none holds a value (looked at {places})"
        return
    read_in = (source.region_found(payload) or (region, ""))[0]
    for one in found:  # until the first valid number, as the function reads them
        try:
            yield "tried", f"{one.place}: {mask(to_e164(one.text, read_in))}"
            return
        except InvalidPhoneError:
            digits = sum(ch.isdigit() for ch in one.text)
            yield "tried", f"{one.place}: not a valid number in {read_in} ({digits} digits)"


def max_body_bytes(env: Mapping[str, str]) -> int:
    """The function's MAX_BODY_BYTES, as set where make check-recipe runs (make serve's too), else its default."""
    try:
        return int(env.get("MAX_BODY_BYTES") or Settings.max_body_bytes)
    except ValueError:
        raise ToolError(f"MAX_BODY_BYTES must be a whole number of bytes, got {env['MAX_BODY_BYTES']!r}") from None


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=env.get("NAME") or None, help="the route whose recipe reads the payload")
    parser.add_argument("--body", default=env.get("BODY") or None, help="the payload's file")
    parser.add_argument("--headers", default=env.get("HEADERS") or None, help="a file of the headers it came with")
    parser.add_argument("--region-code", default=env.get("REGION_CODE") or Settings.default_phone_region)
    parser.add_argument("--recipes", default=env.get("RECIPES") or None, help="the recipes' folder")
    args = parser.parse_args(argv)
    try:
        if not args.name or not args.body:
            raise ToolError("give NAME=<route> and BODY=<payload file>: make check-recipe NAME=shopify BODY=<file>")
        source = payloads.recipe_source(args.name, payloads.recipes_folder(args.recipes))
        body = payloads.read_file(args.body, "BODY")
        headers = payloads.with_content_type(body, payloads.headers_of(args.headers), source)
        rows, result = report(source, body, headers, args.region_code.upper(), max_body_bytes(env))
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    rows.append(("answer", f"{result.status} {result.to_lambda()['body']}"))
    if result.outcome == outcomes.OWNER_CREATED:
        rows.append(("", '(a phone whose owner exists: 200 {"success":true,"existing":true})'))
    width = max(len(what) for what, _ in rows)
    print("\n".join(f"{what.ljust(width)}  {found}" for what, found in rows))
    return 0 if result.outcome in (outcomes.OWNER_CREATED, outcomes.IGNORED) else 1


if __name__ == "__main__":
    sys.exit(main())
