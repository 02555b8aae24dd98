"""A request signed as its sender signs it, from the sender's recipe: the one signer of the sandbox (`make send`,
and the senders of the presets' samples and of your own recipes, sandbox/senders/).

It reads the recipe the function parses (its credential: where the token goes, or the HMAC's key, content,
encoding, prefix, timestamp and signature places) and computes the signature with code of its own, as the
sender does: the function's checks verify what it sends, and tests/unit/test_signer.py holds it to the vendors'
published vectors. What the signed content covers and the request lacks is added as its sender adds it: a
`{header:...}` id (Standard Webhooks' `webhook-id`, Framer's submission id: one per body, the same for the
same body, as a retry's) and the timestamp.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from owner_webhook.sources.checks import Hmac, RequestPlace, Token
from owner_webhook.sources.recipe import Credential, Recipe
from sandbox.events import HttpRequest


class SigningError(ValueError):
    """A recipe whose signature or timestamp is in a place no sender puts one (the body)."""


def credential_for(recipe: Recipe, secret: str) -> Credential:
    """The recipe's credential for this kind of secret (a `whsec_` one, or any other); the first when none
    fits, so that a wrong secret signs as the first kind does."""
    fitting = (c for c in recipe.credentials if c.secret_prefix is None or secret.startswith(c.secret_prefix))
    return next(fitting, recipe.credentials[0])


def sign(request: HttpRequest, recipe: Recipe, secret: str, now: float, url: str | None = None) -> HttpRequest:
    """`request` with the authentication its sender adds, made with `secret` at the time `now`. `url`: the URL
    a signature covering `{url}` signs (default: https://<Host><path>?<query>, as API Gateway receives it).
    Header names are lower case. Raises SigningError."""
    plain = replace(request, headers={name.lower(): value for name, value in request.headers.items()})
    check = credential_for(recipe, secret).check
    if isinstance(check, Token):
        return _with_token(plain, check.places[0], secret)
    return _with_signature(plain, check, secret, now, url)


def _with_token(request: HttpRequest, place: RequestPlace, secret: str) -> HttpRequest:
    headers = dict(request.headers)
    if place.kind == "bearer":
        headers["authorization"] = f"Bearer {secret}"
    elif place.kind == "basic":  # the secret is user:password
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    elif place.kind == "header":
        headers[place.name] = secret
    elif place.kind == "query":
        return replace(request, query=_with_parameter(request.query, place.name, secret))
    else:
        return replace(request, body=_with_field(request, place.name, secret))
    return replace(request, headers=headers)


def _with_parameter(query: str, name: str, value: str) -> str:
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != name]
    return urlencode([*kept, (name, value)])


def _with_field(request: HttpRequest, place: str, secret: str) -> bytes:
    """The body with the token in its field: a JSON object's (dotted) place, else a form's field."""
    try:
        document = json.loads(request.body)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        *parents, last = place.split(".")
        at = document
        for key in parents:
            if not isinstance(at.get(key), dict):
                at[key] = {}
            at = at[key]
        at[last] = secret
        return json.dumps(document, ensure_ascii=False).encode()
    return _with_parameter(request.body.decode("utf-8", "replace"), place, secret).encode()


def _with_signature(request: HttpRequest, check: Hmac, secret: str, now: float, url: str | None) -> HttpRequest:
    headers = dict(request.headers)
    digest = hashlib.sha256(request.body).hexdigest()
    for kind, name in check.signed:
        if kind == "header" and name not in headers:  # an id the sender makes, here one per body (as a retry's)
            headers[name] = f"msg_{digest[:24]}" if name == "webhook-id" else str(uuid.UUID(digest[:32]))
    stamp = str(int(now * check.per_second))
    signed_url = url or f"https://{headers.get('host', 'localhost')}{request.path}" + (
        f"?{request.query}" if request.query else ""
    )
    pieces = {"body": request.body, "timestamp": stamp.encode(), "method": b"POST", "url": signed_url.encode()}
    content = b"".join(
        text.encode() if kind == "text" else headers[text].encode() if kind == "header" else pieces[kind]
        for kind, text in check.signed
    )
    mac = hmac.new(_key(check.key, secret), content, getattr(hashlib, check.algorithm)).digest()
    signature = check.prefix + (mac.hex() if check.encoding == "hex" else base64.b64encode(mac).decode())
    timestamp = check.timestamp
    if check.pairs is not None:  # v1=<signature>, and t=<timestamp> among the pairs when the recipe reads it there
        pairs = [f"{timestamp.name}={stamp}"] if timestamp is not None and timestamp.kind == "pair" else []
        signature = ",".join([*pairs, f"{check.pairs}={signature}"])
    if timestamp is not None and timestamp.kind != "pair":
        headers = _placed(headers, timestamp, stamp)
        if timestamp.kind == "query":
            request = replace(request, query=_with_parameter(request.query, timestamp.name, stamp))
    request = replace(request, headers=_placed(headers, check.signature, signature))
    if check.signature.kind == "query":
        return replace(request, query=_with_parameter(request.query, check.signature.name, signature))
    return request


def _placed(headers: dict[str, str], place: RequestPlace, value: str) -> dict[str, str]:
    if place.kind == "header":
        return {**headers, place.name: value}
    if place.kind == "query":
        return headers  # the caller puts it in the query
    raise SigningError(f"a signature or timestamp in {place.label} is not one a sender sends")


def _key(kind: str, secret: str) -> bytes:
    if kind == "whsec" and secret.startswith("whsec_"):  # Standard Webhooks: the base64 key after whsec_
        encoded = secret.removeprefix("whsec_")
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            return secret.encode()  # no key: signed as it is, and refused as the function refuses such a secret
    if kind == "html_entities":  # WordPress signs with the secret's HTML entities decoded
        return html.unescape(secret).encode()
    return secret.encode()


def shown(request: HttpRequest, recipe: Recipe, secret: str) -> dict[str, Any]:
    """What a person may see of the signed request: the header names and the query without the credential's
    values (a token, a signature, a Basic password)."""
    check = credential_for(recipe, secret).check
    hidden = {"authorization"}
    places = check.places if isinstance(check, Token) else (check.signature,)
    hidden |= {place.name for place in places if place.kind in ("header", "query")}
    query = [(k, "<secret>" if k in hidden else v) for k, v in parse_qsl(request.query, keep_blank_values=True)]
    return {
        "headers": {k: "<secret>" if k in hidden else v for k, v in request.headers.items()},
        "query": urlencode(query, safe="<>"),
    }


def described(recipe: Recipe) -> str:
    """How the sender authenticates, in a few words: `HMAC in header x-shopify-hmac-sha256`, `token in query token`."""
    kinds = []
    for credential in recipe.credentials:
        check = credential.check
        prefix = f" (a {credential.secret_prefix} secret)" if credential.secret_prefix else ""
        if isinstance(check, Hmac):
            kinds.append(f"HMAC in {check.signature.label}{prefix}")
        else:
            kinds.append(f"token in {' or '.join(place.label for place in check.places)}{prefix}")
    return "; or ".join(kinds)
