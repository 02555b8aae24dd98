"""How a recipe reads a request: a token compared in constant time, or an HMAC as the sender computes it;
the unsigned test ping some senders send first; and the event filter, after authentication.

Each reads the request through request places: `header:<Name>`, `query:<name>`, `body:<place>` (a field
of the parsed body), `bearer` (an `Authorization: Bearer` token), `basic` (the `user:password` of an
`Authorization: Basic` header) and, for a `t=...,v1=...` signature header, `pair:<key>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from owner_webhook.errors import UnauthenticatedError, WebhookSecretInvalidError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import places, signatures, standard_webhooks
from owner_webhook.sources.places import PlaceError

Fields = Callable[[], Mapping[str, Any]]  # the parsed body, read only by a check that needs it
ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
ENCODINGS = ("hex", "base64")
KEYS = ("utf8", "whsec", "html_entities")
_TEMPLATE_PART = re.compile(r"\{(?P<name>[^{}]*)\}|(?P<text>[^{}]+)")
_TEMPLATE_NAMES = ("body", "timestamp", "method", "url")
# HubSpot signs its URL with these few characters decoded; others stay as they are (its docs' list).
_URL_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
                "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}  # fmt: skip
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# The longest ping body a recipe may accept without a credential (WooCommerce's is `webhook_id=<n>`).
MAX_PING_BYTES = 64
_PING_DIGITS = 20  # what a {digits} hole takes at most: any 64-bit id
_PING_HOLE = re.compile(r"\{(?P<name>[^{}]*)\}")
# Written in a ping, these say that a regular expression was meant: a ping is literal text.
_NOT_LITERAL = set("\\[]()*+?|^$")


class RequestPlace(NamedTuple):
    kind: str  # header, query, body, bearer, basic, pair
    name: str = ""
    body_place: places.Place | None = None

    @property
    def label(self) -> str:
        """How an answer names it: the header or the parameter, never its value."""
        return f"{self.kind} {self.name}".strip()

    def read(self, request: WebhookRequest, fields: Fields, pairs: Mapping[str, list[str]] | None = None) -> str | None:
        if self.kind == "header":
            return request.header(self.name)
        if self.kind == "query":
            return request.query.get(self.name)
        if self.kind == "bearer":
            scheme, _, token = (request.header("authorization") or "").strip().partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
        if self.kind == "basic":
            return _basic(request.header("authorization"))
        if self.kind == "pair":
            found = (pairs or {}).get(self.name)
            return found[0] if found else None
        assert self.body_place is not None
        return self.body_place.first_text(fields())


def request_place(text: Any, *, pair: bool = False) -> RequestPlace:
    """The request place `text` names; raises PlaceError."""
    if not isinstance(text, str) or not text.strip():
        raise PlaceError("a request place is header:<Name>, query:<name>, body:<place>, bearer or basic")
    kind, colon, name = text.partition(":")
    if colon and kind not in ("header", "query", "body", "pair"):  # a payload place whose key has a colon
        kind, colon, name = text, "", ""
    if not colon and kind in ("bearer", "basic"):
        return RequestPlace(kind)
    if colon and kind in ("header", "query") and name.strip():
        return RequestPlace(kind, name.strip().lower() if kind == "header" else name.strip())
    if colon and kind == "body":
        return RequestPlace(kind, name, places.parse(name))
    if colon and kind == "pair" and pair and name.strip():
        return RequestPlace(kind, name.strip())
    raise PlaceError(f"{text!r} is not header:<Name>, query:<name>, body:<place>, bearer or basic")


def id_place(text: Any) -> RequestPlace:
    """A delivery id's place: header:<Name>, query:<name>, or a place in the payload; raises PlaceError."""
    if isinstance(text, str) and not text.startswith(("header:", "query:", "body:")):
        return RequestPlace("body", text, places.parse(text))
    return request_place(text)


class Token(NamedTuple):
    """A token the sender carries as it is, in the first of `places` that it sends."""

    places: tuple[RequestPlace, ...]

    def check(self, request: WebhookRequest, secret: str, fields: Fields) -> None:
        presented = next((value for place in self.places if (value := place.read(request, fields))), None)
        if presented is None:
            raise UnauthenticatedError(f"no token: send it in {' or '.join(p.label for p in self.places)}")
        if not hmac.compare_digest(signatures.utf8(presented.strip()), secret.encode()):
            raise UnauthenticatedError("the token is wrong")


class Hmac(NamedTuple):
    """An HMAC of content built from the raw body (and a timestamp, headers, the URL), in one place."""

    signature: RequestPlace
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""  # on each signature, e.g. sha256= or v1,
    separator: str | None = None  # several signatures in one value, any may match
    pairs: str | None = None  # the value is k=v,k=v; the signatures are the values of this key
    signed: tuple[tuple[str, str], ...] = (("body", ""),)  # the content: (kind, text) parts
    timestamp: RequestPlace | None = None
    per_second: int = 1  # 1000: the timestamp is in milliseconds
    tolerance: int = signatures.TOLERANCE_SECONDS
    key: str = "utf8"

    def check(self, request: WebhookRequest, secret: str, fields: Fields, url: str | None) -> None:
        value = self.signature.read(request, fields)
        if not value:
            raise UnauthenticatedError(f"no {self.signature.label}: is the signing secret set at the sender?")
        pairs = _pairs(value) if self.pairs else None
        entries = (pairs or {}).get(self.pairs or "", []) if pairs is not None else _split(value, self.separator)
        presented = [
            signatures.utf8(entry.strip().removeprefix(self.prefix))
            for entry in entries
            if entry.strip().startswith(self.prefix)
        ]
        if self.encoding == "hex":
            presented = [entry.lower() for entry in presented]
        timestamp = None
        if self.timestamp is not None:
            timestamp = signatures.require_fresh(
                self.timestamp.read(request, fields, pairs),
                self.timestamp.label,
                per_second=self.per_second,
                tolerance=self.tolerance,
            )
        content = self._content(request, timestamp, url)
        digest = hmac.new(self._key(secret), content, ALGORITHMS[self.algorithm]).digest()
        expected = (digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()).encode()
        if not presented:
            raise UnauthenticatedError(f"no signature in {self.signature.label}")
        # Compare against every entry, without stopping early, so timing says nothing about which matched.
        if not sum(hmac.compare_digest(candidate, expected) for candidate in presented):
            raise UnauthenticatedError(f"the {self.signature.label} signature does not match")

    def _content(self, request: WebhookRequest, timestamp: str | None, url: str | None) -> bytes:
        parts = []
        for kind, text in self.signed:
            if kind == "text":
                parts.append(text.encode())
            elif kind == "body":
                parts.append(request.body)
            elif kind == "timestamp":
                parts.append((timestamp or "").encode())
            elif kind == "method":
                parts.append(b"POST")  # the only method routed to a source
            elif kind == "url":
                parts.append(signatures.utf8(_decoded(url or request.url or "")))
            else:
                header = request.header(text)
                if header is None:
                    raise UnauthenticatedError(f"no {text} header, which the signature covers")
                parts.append(signatures.utf8(header))
        return b"".join(parts)

    def _key(self, secret: str) -> bytes:
        if self.key == "whsec":
            key = standard_webhooks.key(secret)
            # The secret's parse refuses these: a key of no bytes, or of zero bytes only, would let anyone sign.
            if not key or not key.strip(b"\0"):
                raise WebhookSecretInvalidError("the webhook secret is whsec_ without a base64 key after it")
            return key
        if self.key == "html_entities":  # WordPress signs with the secret's HTML entities decoded
            return html.unescape(secret).encode()
        return secret.encode()


def template(text: Any) -> tuple[tuple[str, str], ...]:
    """The parts of a signed-content template such as `{timestamp}.{body}`; raises PlaceError."""
    if not isinstance(text, str) or not text:
        raise PlaceError("the signed content is a template such as {body} or {timestamp}.{body}")
    parts: list[tuple[str, str]] = []
    position = 0
    for found in _TEMPLATE_PART.finditer(text):
        if found.start() != position:
            break
        position = found.end()
        if found["text"] is not None:
            parts.append(("text", found["text"]))
        elif found["name"] in _TEMPLATE_NAMES:
            parts.append((found["name"], ""))
        elif found["name"].startswith("header:") and found["name"][7:].strip():
            parts.append(("header", found["name"][7:].strip().lower()))
        else:
            raise PlaceError(f"{text!r}: unknown {{{found['name']}}} (body, timestamp, method, url or header:<Name>)")
    if position != len(text):
        raise PlaceError(f"{text!r}: a brace without its pair")
    if ("body", "") not in parts:
        raise PlaceError(f"{text!r}: the signed content must include {{body}}")
    return tuple(parts)


def _split(value: str, separator: str | None) -> list[str]:
    if separator is None:
        return [value]
    return value.split() if separator == " " else value.split(separator)


def _pairs(value: str) -> dict[str, list[str]]:
    """`t=1,v1=a,v1=b` as {"t": ["1"], "v1": ["a", "b"]}."""
    found: dict[str, list[str]] = {}
    for item in value.split(","):
        key, equals, text = item.strip().partition("=")
        if equals:
            found.setdefault(key, []).append(text)
    return found


def _basic(header: str | None) -> str | None:
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _decoded(url: str) -> str:
    return _PERCENT.sub(lambda m: _URL_DECODED.get(m[0].upper(), m[0]), url)


class Ping(NamedTuple):
    """The unsigned body a sender sends to test a new webhook: literal text, with {digits} for a number.

    It is matched before authentication, so by one left-to-right scan of at most MAX_PING_BYTES, never by a
    regular expression: nothing a sender sends can make it slow.
    """

    parts: tuple[bytes | None, ...]  # literal bytes, or None for 1 to 20 ASCII digits

    def matches(self, body: bytes) -> bool:
        if len(body) > MAX_PING_BYTES:
            return False
        position = 0
        for part in self.parts:
            if part is None:  # as many digits as there are: the template never puts a digit after a hole
                end = position
                while end < len(body) and end - position < _PING_DIGITS and body[end] in b"0123456789":
                    end += 1
                if end == position:
                    return False
                position = end
            elif body.startswith(part, position):
                position += len(part)
            else:
                return False
        return position == len(body)


def ping(text: Any) -> Ping:
    """The ping `text` describes, such as `webhook_id={digits}`; raises PlaceError."""
    if not isinstance(text, str) or not text:
        raise PlaceError("the body of the sender's test request as text, with {digits} for a number")
    if _NOT_LITERAL & set(text):
        raise PlaceError(f"{text!r}: literal text with {{digits}} for a number, not a regular expression")
    if set("{}") & set(_PING_HOLE.sub("", text)):
        raise PlaceError(f"{text!r}: a brace without its pair")
    parts: list[bytes | None] = []
    position = 0
    for hole in _PING_HOLE.finditer(text):
        if hole["name"] != "digits":
            raise PlaceError(f"{text!r}: unknown {{{hole['name']}}} (the one hole is {{digits}})")
        parts.extend((text[position : hole.start()].encode(), None))
        position = hole.end()
    parts.append(text[position:].encode())
    kept = tuple(part for part in parts if part != b"")
    for before, after in itertools.pairwise(kept):
        if before is None and (after is None or after[:1].isdigit()):
            raise PlaceError(f"{text!r}: a {{digits}} must be followed by text that is not a digit, or end it")
    if sum(len(part) if part is not None else 1 for part in kept) > MAX_PING_BYTES:
        raise PlaceError(f"{text!r}: a ping is at most {MAX_PING_BYTES} bytes")
    return Ping(kept)


class EventFilter(NamedTuple):
    """Which events a recipe takes: those whose `place` holds one of `accept` (Shopify's X-Shopify-Topic,
    Stripe's type). A delivery without that place at all is taken (a misspelt place loses no signup); one
    whose place holds anything else (another name, nothing, a number, a list, null) is ignored."""

    place: RequestPlace
    accept: frozenset[str]

    def takes(self, request: WebhookRequest, fields: Fields) -> bool:
        if self.place.body_place is not None:
            values = self.place.body_place.values(fields())
            for value in values:  # the first value there, whatever it is
                return isinstance(value, str) and value.strip() in self.accept
            return True
        found = self.place.read(request, fields)
        return found is None or found.strip() in self.accept
