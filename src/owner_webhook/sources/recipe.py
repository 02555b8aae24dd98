"""A sender as data: a recipe, validated once, and the source that follows it.

A recipe is a JSON object (docs/senders.md describes every field):

    {"body": ["json"],
     "credential": {"signature": "header:X-Shopify-Hmac-Sha256", "hmac": "sha256", "encoding": "base64"},
     "phone": ["phone", "default_address.phone", "addresses[].phone"],
     "region": ["default_address.country_code"],
     "delivery_id": ["header:X-Shopify-Webhook-Id"],
     "events": {"place": "header:X-Shopify-Topic", "accept": ["customers/create"]},
     "refusals": "acknowledge", "retries": true}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

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
from owner_webhook.sources.checks import EventFilter, Ping, RequestPlace
from owner_webhook.sources.fields import Found
from owner_webhook.sources.places import Place, PlaceError
from owner_webhook.sources.secret import WebhookSecret

BODIES = {"json": JSON, "form": FORM, "multipart": MULTIPART}
REFUSALS = {"acknowledge": True, "reject": False}
# Every field of a recipe with its default (None: none); REQUIRED have none. docs/senders.md's tables say the
# same, and tests/unit/test_recipe_language.py keeps them equal.
FIELDS: dict[str, Any] = {
    "for": "",
    "body": ["json"],
    "credential": None,
    "phone": None,
    "region": [],
    "delivery_id": [],
    "events": None,
    "refusals": "acknowledge",
    "retries": None,
    "ping": None,
}
REQUIRED = ("credential", "phone", "retries")
TOKEN_FIELDS: dict[str, Any] = {"token": None, "secret_prefix": None}
HMAC_FIELDS: dict[str, Any] = {
    "signature": None,
    "hmac": "sha256",
    "encoding": "hex",
    "prefix": "",
    "separator": None,
    "pairs": None,
    "signed": "{body}",
    "timestamp": None,
    "timestamp_unit": "s",
    "tolerance": signatures.TOLERANCE_SECONDS,
    "key": "utf8",
    "secret_prefix": None,
}
CREDENTIAL_REQUIRED = ("token", "signature")
EVENT_FIELDS = ("place", "accept")


class RecipeError(ValueError):
    """A recipe that cannot be used; `field` is the one that is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class Credential(NamedTuple):
    check: checks.Token | checks.Hmac
    secret_prefix: str | None = None  # this way of checking is for the secrets that start so


class Recipe(NamedTuple):
    name: str
    accept: tuple[str, ...]
    credentials: tuple[Credential, ...]
    phone: tuple[Place, ...]
    region: tuple[Place, ...] = ()
    delivery_id: tuple[RequestPlace, ...] = ()
    acknowledges_refusals: bool = True
    retries: bool = True
    ping: Ping | None = None
    events: EventFilter | None = None
    description: str = ""

    def with_phone(self, phone: tuple[Place, ...]) -> Recipe:
        return self._replace(phone=phone)


def parse(name: str, document: Any) -> Recipe:
    """The recipe `document` describes; raises RecipeError naming the field that is wrong."""
    if not isinstance(document, Mapping):
        raise RecipeError("(recipe)", "a recipe is a JSON object")
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise RecipeError(unknown[0], f"not a recipe field (the fields: {', '.join(FIELDS)})")
    field = {key: document.get(key, default) for key, default in FIELDS.items()}
    ping = field["ping"]
    return Recipe(
        name=name,
        accept=_body(field["body"]),
        credentials=_credentials(field["credential"]),
        phone=_places("phone", field["phone"], required=True),
        region=_places("region", field["region"]),
        delivery_id=tuple(_field("delivery_id", checks.id_place, p) for p in _list("delivery_id", field)),
        acknowledges_refusals=_choice("refusals", field["refusals"], REFUSALS),
        retries=_boolean("retries", field["retries"]),
        ping=None if ping is None else _field("ping", checks.ping, ping),
        events=_events(field["events"]),
        description=str(field["for"]),
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

    def accepts(self, request: WebhookRequest, payload: Callable[[], Mapping[str, Any]]) -> bool:
        """Whether this is an event the recipe takes: not its ping, and one its event filter lets through."""
        if self._is_ping(request):
            return False
        return self.recipe.events is None or self.recipe.events.takes(request, payload)

    def phones(self, payload: Mapping[str, Any]) -> Iterator[Found]:
        """Every value of the phone places, in their order: the first that is a valid number is the phone."""
        for place in self.recipe.phone:
            for text in place.texts(payload):
                yield Found(text, place.text)

    def phone_region(self, payload: Mapping[str, Any]) -> str | None:
        """The region the payload states for the phone (an address's country), if it names one we know."""
        found = self.region_found(payload)
        return found[0] if found else None

    def region_found(self, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        """The region the payload states for the phone, and the place that states it; None: none we know."""
        for place in self.recipe.region:
            for value in place.values(payload):
                if isinstance(value, str) and value.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
                    return value.strip().upper(), place.text
        return None

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return self.delivery_id_found(request, payload)[0]

    def delivery_id_found(self, request: WebhookRequest, payload: Mapping[str, Any]) -> tuple[str, str | None]:
        """The delivery id and the place it was found in (None: none held one, so the SHA-256 of the body)."""
        for place in self.recipe.delivery_id:
            found = place.read(request, lambda: payload)
            if found:
                return found, place.name if place.kind == "body" else place.label
        return request.body_digest, None

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
        return self.recipe.ping is not None and self.recipe.ping.matches(request.body)


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

    def accepts(self, request: WebhookRequest, payload: Callable[[], Mapping[str, Any]]) -> bool:
        raise self.refuse()

    def phones(self, payload: Mapping[str, Any]) -> Iterator[Found]:
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
        extra = sorted(set(spec) - set(TOKEN_FIELDS))
        if extra:
            raise RecipeError(f"{name}.{extra[0]}", "a token credential has only token (and secret_prefix)")
        token_places = spec["token"] if isinstance(spec["token"], list) else [spec["token"]]
        found = tuple(_field(f"{name}.token", checks.request_place, p) for p in token_places)
        if not found:
            raise RecipeError(f"{name}.token", "name at least one place")
        return Credential(checks.Token(found), prefix)
    unknown = sorted(set(spec) - set(HMAC_FIELDS))
    if unknown:
        raise RecipeError(f"{name}.{unknown[0]}", f"not a credential field ({', '.join(('token', *HMAC_FIELDS))})")
    if "signature" not in spec:
        raise RecipeError(name, "either token or signature")
    field = {key: spec.get(key, default) for key, default in HMAC_FIELDS.items()}
    pairs, timestamp, separator = field["pairs"], field["timestamp"], field["separator"]
    check = checks.Hmac(
        signature=_field(f"{name}.signature", checks.request_place, field["signature"]),
        algorithm=_choice(f"{name}.hmac", field["hmac"], {a: a for a in checks.ALGORITHMS}),
        encoding=_choice(f"{name}.encoding", field["encoding"], {e: e for e in checks.ENCODINGS}),
        prefix=_text(f"{name}.prefix", field["prefix"]),
        separator=_text(f"{name}.separator", separator) or None if separator is not None else None,
        pairs=_text(f"{name}.pairs", pairs) or None if pairs is not None else None,
        signed=_field(f"{name}.signed", checks.template, field["signed"]),
        timestamp=None if timestamp is None else _field(f"{name}.timestamp", _timestamp_place(pairs), timestamp),
        per_second=_choice(f"{name}.timestamp_unit", field["timestamp_unit"], {"s": 1, "ms": 1000}),
        tolerance=_tolerance(f"{name}.tolerance", field["tolerance"]),
        key=_choice(f"{name}.key", field["key"], {k: k for k in checks.KEYS}),
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
    value = document[name]
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


def _events(value: Any) -> EventFilter | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != set(EVENT_FIELDS):
        raise RecipeError("events", 'an object {"place": ..., "accept": [...]}, such as the place of the event type')
    accept = value["accept"]
    if not isinstance(accept, list) or not accept or not all(isinstance(item, str) and item for item in accept):
        raise RecipeError("events.accept", 'a list of the event names taken, such as ["customers/create"]')
    return EventFilter(_field("events.place", checks.id_place, value["place"]), frozenset(accept))
