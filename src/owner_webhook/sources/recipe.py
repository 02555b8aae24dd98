"""A sender as data: a recipe, validated once, and the source that follows it.

A recipe is a JSON object (docs/senders.md describes every field):

    {"body": ["json"],
     "credential": {"signature": "header:X-Shopify-Hmac-Sha256", "hmac": "sha256", "encoding": "base64"},
     "phone": ["phone", "default_address.phone", "addresses[].phone"],
     "region": ["default_address.country_code"],
     "delivery_id": ["header:X-Shopify-Webhook-Id"],
     "refusals": "acknowledge", "retries": true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from owner_webhook.errors import (
    MalformedBodyError,
    SettingError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    WebhookSecretInvalidError,
)
from owner_webhook.request import FORM, JSON, MULTIPART, WebhookRequest, read_fields
from owner_webhook.sources import checks, places, signatures
from owner_webhook.sources.checks import RequestPlace
from owner_webhook.sources.places import Place, PlaceError
from owner_webhook.sources.secret import WebhookSecret

BODIES = {"json": JSON, "form": FORM, "multipart": MULTIPART}
REFUSALS = {"acknowledge": True, "reject": False}
FIELDS = ("for", "body", "credential", "phone", "region", "delivery_id", "refusals", "retries", "ping")
_HMAC_FIELDS = ("signature", "hmac", "encoding", "prefix", "separator", "pairs", "signed", "timestamp",
                "timestamp_unit", "tolerance", "key", "secret_prefix")  # fmt: skip
# The longest ping body a recipe may accept without a credential (WooCommerce's is `webhook_id=<n>`).
_MAX_PING_BYTES = 64


class RecipeError(ValueError):
    """A recipe that cannot be used; `field` is the one that is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class Credential:
    check: checks.Token | checks.Hmac
    secret_prefix: str | None = None  # this way of checking is for the secrets that start so


@dataclass(frozen=True)
class Recipe:
    name: str
    accept: tuple[str, ...]
    credentials: tuple[Credential, ...]
    phone: tuple[Place, ...]
    region: tuple[Place, ...] = ()
    delivery_id: tuple[RequestPlace, ...] = ()
    acknowledges_refusals: bool = True
    retries: bool = True
    ping: re.Pattern[bytes] | None = None
    description: str = ""

    def with_phone(self, phone: tuple[Place, ...]) -> Recipe:
        return Recipe(**{**self.__dict__, "phone": phone})


def parse(name: str, document: Any) -> Recipe:
    """The recipe `document` describes; raises RecipeError naming the field that is wrong."""
    if not isinstance(document, Mapping):
        raise RecipeError("(recipe)", "a recipe is a JSON object")
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise RecipeError(unknown[0], f"not a recipe field (the fields: {', '.join(FIELDS)})")
    return Recipe(
        name=name,
        accept=_body(document.get("body", ["json"])),
        credentials=_credentials(document.get("credential")),
        phone=_places("phone", document.get("phone"), required=True),
        region=_places("region", document.get("region", [])),
        delivery_id=tuple(_field("delivery_id", checks.id_place, p) for p in _list("delivery_id", document)),
        acknowledges_refusals=_choice("refusals", document.get("refusals", "acknowledge"), REFUSALS),
        retries=_boolean("retries", document.get("retries")),
        ping=_ping(document.get("ping")),
        description=str(document.get("for", "")),
    )


class RecipeSource:
    """A source that does what its recipe says."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.name = recipe.name
        self.acknowledges_refusals = recipe.acknowledges_refusals
        self.retries = recipe.retries

    def verify(self, request: WebhookRequest, secret: WebhookSecret) -> None:
        """Any one of the secret's values must verify; raises UnauthenticatedError or WebhookSecretInvalidError."""
        if self._is_ping(request):
            return  # answered without a phone, so nothing is forwarded: see `read`
        failure: UnauthenticatedError | None = None
        for value in secret.values:
            try:
                self._verify_one(request, value, secret.url)
                return
            except UnauthenticatedError as error:
                failure = failure or error
        raise failure or UnauthenticatedError("no webhook secret")

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        if self._is_ping(request):
            return {}
        return read_fields(request, accept=self.recipe.accept)

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        return next((found for place in self.recipe.phone if (found := place.first_text(payload))), None)

    def phone_region(self, payload: Mapping[str, Any]) -> str | None:
        """The region the payload states for the phone (an address's country), if it names one we know."""
        for place in self.recipe.region:
            for value in place.values(payload):
                if isinstance(value, str) and value.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
                    return value.strip().upper()
        return None

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        for place in self.recipe.delivery_id:
            found = place.read(request, lambda: payload)
            if found:
                return found
        return request.body_digest

    def _verify_one(self, request: WebhookRequest, secret: str, url: str | None) -> None:
        credential = next(
            (c for c in self.recipe.credentials if c.secret_prefix is None or secret.startswith(c.secret_prefix)), None
        )
        if credential is None:
            prefixes = " or ".join(c.secret_prefix or "" for c in self.recipe.credentials)
            raise WebhookSecretInvalidError(f"webhook_secrets.{self.name} must start with {prefixes}")

        def fields() -> Mapping[str, Any]:
            try:
                return read_fields(request, accept=self.recipe.accept)
            except (MalformedBodyError, UnsupportedMediaTypeError):
                return {}  # no body to read a token from: unauthenticated, not malformed

        if isinstance(credential.check, checks.Hmac):
            credential.check.check(request, secret, fields, url)
        else:
            credential.check.check(request, secret, fields)

    def _is_ping(self, request: WebhookRequest) -> bool:
        ping = self.recipe.ping
        return ping is not None and len(request.body) <= _MAX_PING_BYTES and ping.fullmatch(request.body) is not None


class UnusableSource:
    """A recipe that did not validate: its route answers 503 invalid_setting, naming it and its field."""

    acknowledges_refusals = False
    retries = True

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem

    def refuse(self) -> SettingError:
        return SettingError(f"the recipe {self.name} is invalid: {self.problem}")

    # The registry never hands it out (get_source raises refuse()); these say the same if it ever does.
    def verify(self, request: WebhookRequest, secret: WebhookSecret) -> None:
        raise self.refuse()

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        raise self.refuse()

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        raise self.refuse()

    def phone_region(self, payload: Mapping[str, Any]) -> str | None:
        raise self.refuse()

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        raise self.refuse()


def _credentials(value: Any) -> tuple[Credential, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, Mapping) for item in items):
        raise RecipeError("credential", "an object (a token or an HMAC), or a list of them for several kinds of secret")
    return tuple(
        _credential(f"credential[{i}]" if len(items) > 1 else "credential", item) for i, item in enumerate(items)
    )


def _credential(name: str, spec: Mapping[str, Any]) -> Credential:
    prefix = spec.get("secret_prefix")
    if prefix is not None and not (isinstance(prefix, str) and prefix):
        raise RecipeError(f"{name}.secret_prefix", "non-empty text")
    if "token" in spec:
        extra = sorted(set(spec) - {"token", "secret_prefix"})
        if extra:
            raise RecipeError(f"{name}.{extra[0]}", "a token credential has only token (and secret_prefix)")
        token_places = spec["token"] if isinstance(spec["token"], list) else [spec["token"]]
        found = tuple(_field(f"{name}.token", checks.request_place, p) for p in token_places)
        if not found:
            raise RecipeError(f"{name}.token", "name at least one place")
        return Credential(checks.Token(found), prefix)
    unknown = sorted(set(spec) - set(_HMAC_FIELDS))
    if unknown:
        raise RecipeError(f"{name}.{unknown[0]}", f"not a credential field ({', '.join(('token', *_HMAC_FIELDS))})")
    if "signature" not in spec:
        raise RecipeError(name, "either token or signature")
    pairs = spec.get("pairs")
    timestamp = spec.get("timestamp")
    check = checks.Hmac(
        signature=_field(f"{name}.signature", checks.request_place, spec["signature"]),
        algorithm=_choice(f"{name}.hmac", spec.get("hmac", "sha256"), {a: a for a in checks.ALGORITHMS}),
        encoding=_choice(f"{name}.encoding", spec.get("encoding", "hex"), {e: e for e in checks.ENCODINGS}),
        prefix=_text(f"{name}.prefix", spec.get("prefix", "")),
        separator=_text(f"{name}.separator", spec["separator"]) or None if "separator" in spec else None,
        pairs=_text(f"{name}.pairs", pairs) or None if pairs is not None else None,
        signed=_field(f"{name}.signed", checks.template, spec.get("signed", "{body}")),
        timestamp=None if timestamp is None else _field(f"{name}.timestamp", _timestamp_place(pairs), timestamp),
        per_second=_choice(f"{name}.timestamp_unit", spec.get("timestamp_unit", "s"), {"s": 1, "ms": 1000}),
        tolerance=_tolerance(f"{name}.tolerance", spec.get("tolerance", signatures.TOLERANCE_SECONDS)),
        key=_choice(f"{name}.key", spec.get("key", "utf8"), {k: k for k in checks.KEYS}),
    )
    covers_timestamp = ("timestamp", "") in check.signed
    if covers_timestamp != (check.timestamp is not None):
        raise RecipeError(f"{name}.timestamp", "name the timestamp's place exactly when {timestamp} is signed")
    return Credential(check, prefix)


def _timestamp_place(pairs: Any) -> Any:
    return lambda text: checks.request_place(text, pair=pairs is not None)


def _places(name: str, value: Any, *, required: bool = False) -> tuple[Place, ...]:
    items = value if isinstance(value, list) else None
    if items is None or (required and not items):
        raise RecipeError(name, 'a list of places, such as ["billing.phone", "data[type=phone].value"]')
    return tuple(_field(name, places.parse, item) for item in items)


def _list(name: str, document: Mapping[str, Any]) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise RecipeError(name, "a list of places")
    return value


def _field(name: str, reader: Any, value: Any) -> Any:
    try:
        return reader(value)
    except PlaceError as error:
        raise RecipeError(name, str(error)) from None


def _body(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item in BODIES for item in items):
        raise RecipeError("body", f"a list of {', '.join(BODIES)}")
    return tuple(BODIES[item] for item in items)


def _choice(name: str, value: Any, choices: Mapping[str, Any]) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise RecipeError(name, f"one of {', '.join(choices)}, not {value!r}"[:200])
    return choices[value]


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(name, "true when the sender retries a failed delivery, false when it never does")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RecipeError(name, "text")
    return value


def _tolerance(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3600:
        raise RecipeError(name, "whole seconds from 1 to 3600")
    return value


def _ping(value: Any) -> re.Pattern[bytes] | None:
    if value is None:
        return None
    try:
        return re.compile(_text("ping", value).encode())
    except re.error as error:
        raise RecipeError("ping", f"not a regular expression: {error}") from None
