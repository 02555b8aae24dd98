"""Kept refusals: an authenticated delivery refused by our own configuration, kept to be replayed after the fix.

A delivery that ends without an owner and without being queued, once it is authenticated (the outcomes
marked `kept`: no phone found, a phone that is not valid, a phone the gateway refused, a body that could not
be read), is written as received to the deployment's bucket (REFUSED_BUCKET), which encrypts it under the
stack's KMS key and deletes it after REFUSED_RETENTION_DAYS. `make replay-refused` runs it again through the
forwarder (a `replay` event) and removes what then succeeds.

An object is `<source>/<id>`: the id is an HMAC of the source and the delivery id under the phone key, so a
sender's retry of the same delivery replaces it, and nothing in its name is the person's. Its metadata is
the reason alone. Its body is the JSON of `KeptRefusal`: the body as received (base64) and the headers its
recipe reads (the content type, the delivery id's; never a credential); or, for a phone the gateway refused
on the retry queue's path, the E.164 phone (the queue never held the body).

Keeping never changes an answer: a store that fails, or that no longer fits the request's time, is skipped,
and the result says why (the entry points log it and count `RefusalNotKept`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from owner_webhook import outcomes
from owner_webhook.aws_clients import CLIENT_CONFIG
from owner_webhook.budget import KEEP, Deadline
from owner_webhook.delivery_ids import MAX_CHARS, kept_name, normalized
from owner_webhook.errors import MalformedBodyError, MalformedMessageError, UnsupportedMediaTypeError
from owner_webhook.outcomes import Outcome
from owner_webhook.phone import is_e164, plain
from owner_webhook.request import FORM, JSON, WebhookRequest
from owner_webhook.retry_queue import QueuedDelivery
from owner_webhook.sources import Source
from owner_webhook.sources.checks import Token
from owner_webhook.sources.recipe import RecipeSource

VERSION = 1
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # a route's name, as the registry takes it
_LATEST = 1e11  # epoch seconds: the year 5138
_SHOWN_DIGITS = 6  # a written phone's last two digits are shown only beyond this many (as make lookup does)


@dataclass(frozen=True)
class KeptRefusal:
    """One refused delivery, as it is kept and replayed."""

    source: str
    delivery_id: str  # normalized, as the records key it: the replay is the same delivery
    received_at: float
    reason: str  # the code of the outcome it ended in
    message: str
    phone: str | None = None  # as shown: masked, or what the phone place held (its digits' count); None: none found
    places: tuple[str, ...] = ()  # where the recipe looked for the phone
    body: bytes | None = None  # as received; None for a queued delivery, whose body the queue never held
    headers: Mapping[str, str] = field(default_factory=dict)  # the ones its recipe reads
    e164: str | None = None  # a queued delivery's phone, forwarded again as it was
    kept_at: float = 0.0
    kept_until: float = 0.0

    @classmethod
    def received(
        cls,
        source: Source,
        request: WebhookRequest,
        outcome: Outcome,
        message: str | None,
        phone: str | None,
        *,
        delivery_id: str | None = None,
        received_at: float | None = None,
    ) -> KeptRefusal:
        """A delivery the webhook refused, as received. `phone` is its masked phone when one was normalized;
        otherwise what the phone place held is described (how many digits), never repeated."""
        payload = _payload(source, request)
        if delivery_id is None:
            delivery_id = normalized(source.delivery_id(request, payload))
        return cls(
            source=source.name,
            delivery_id=delivery_id,
            received_at=round(time.time() if received_at is None else received_at, 3),
            reason=outcome.code,
            message=message or outcome.meaning,
            phone=phone or _described(source, payload),
            places=_places(source),
            body=_without_credentials(source, request),
            headers={name: value for name, value in request.headers.items() if name in _read_headers(source)},
        )

    @classmethod
    def queued(cls, delivery: QueuedDelivery, outcome: Outcome, message: str | None, phone: str) -> KeptRefusal:
        """A queued delivery the gateway refused: its normalized phone, without a body."""
        return cls(
            source=delivery.source,
            delivery_id=delivery.delivery_id,
            received_at=delivery.received_at,
            reason=outcome.code,
            message=message or outcome.meaning,
            phone=phone,
            e164=delivery.phone,
        )

    def again(self, source: Source, outcome: Outcome, message: str | None, phone: str | None) -> KeptRefusal:
        """The same delivery, refused again by a replay: its new reason, and what today's recipe found."""
        if self.body is None:
            return replace(self, reason=outcome.code, message=message or outcome.meaning)
        request = WebhookRequest(self.body, self.headers, {})
        fresh = KeptRefusal.received(
            source, request, outcome, message, phone, delivery_id=self.delivery_id, received_at=self.received_at
        )
        return replace(fresh, headers=self.headers)

    @property
    def request(self) -> WebhookRequest | None:
        """The request to read again (without its credential, which a replay does not check), or None."""
        return None if self.body is None else WebhookRequest(self.body, self.headers, {})

    def to_json(self) -> str:
        document = asdict(self)
        document.update(version=VERSION, places=list(self.places), headers=dict(self.headers))
        document["body"] = None if self.body is None else base64.b64encode(self.body).decode()
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeptRefusal:
        """Raises MalformedMessageError for what this module did not write."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise MalformedMessageError("the kept refusal is not JSON") from None
        return cls.from_fields(document)

    @classmethod
    def from_fields(cls, document: object) -> KeptRefusal:
        """Checked as strictly as a request (a replay event carries it); raises MalformedMessageError."""
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise MalformedMessageError("not a kept refusal of this version")
        source, delivery_id, reason = (document.get(k) for k in ("source", "delivery_id", "reason"))
        if not isinstance(source, str) or not _SOURCE.fullmatch(source):
            raise MalformedMessageError("the kept refusal names no source")
        if not isinstance(delivery_id, str) or not 0 < len(delivery_id) <= MAX_CHARS:
            raise MalformedMessageError("the kept refusal has no delivery id")
        if not isinstance(reason, str) or reason not in outcomes.ALL or not outcomes.ALL[reason].kept:
            raise MalformedMessageError("the kept refusal names no reason a refusal is kept for")
        e164, body = document.get("e164"), _body(document.get("body"))
        if (body is None) == (e164 is None) or (e164 is not None and not (isinstance(e164, str) and is_e164(e164))):
            raise MalformedMessageError("a kept refusal holds a body, or (from the retry queue) a valid E.164 phone")
        return cls(
            source=source,
            delivery_id=normalized(delivery_id),
            received_at=_time(document.get("received_at")),
            reason=reason,
            message=_text(document.get("message")) or outcomes.ALL[reason].meaning,
            phone=_text(document.get("phone")) or None,
            places=tuple(_text(place) for place in _list(document.get("places"))),
            body=body,
            headers=_headers(document.get("headers")),
            e164=e164,
            kept_at=_time(document.get("kept_at", 0)),
            kept_until=_time(document.get("kept_until", 0)),
        )


@dataclass(frozen=True)
class Kept:
    """What keeping a refusal did: its id (kept, or the one it would have had), or why it was not kept."""

    name: str
    problem: str | None = None


class RefusalStore:
    """The bucket of kept refusals. Its S3 client is built when the first refusal is kept, never on the way to
    an owner."""

    def __init__(self, bucket: str, retention_days: int, session: boto3.session.Session) -> None:
        self.bucket = bucket
        self._retention = retention_days * 86_400
        self._session = session
        self._client: Any = None

    def keep(self, refusal: KeptRefusal, key: bytes, deadline: Deadline) -> Kept:
        """Write `refusal` as `<source>/<id>` if the call fits the request's time; never raises."""
        name = kept_name(refusal.source, refusal.delivery_id, key)
        now = time.time()
        kept = replace(refusal, kept_at=round(now, 3), kept_until=round(now + self._retention, 3))
        try:
            if not deadline.fits_in_reserve(KEEP):
                return Kept(name, "out_of_time")
            client = self._s3()
            if not deadline.fits_in_reserve(KEEP):  # building the client took part of it
                return Kept(name, "out_of_time")
            client.put_object(
                Bucket=self.bucket,
                Key=f"{refusal.source}/{name}",
                Body=kept.to_json().encode(),
                ContentType="application/json",
                Metadata={"reason": refusal.reason},
            )
        except ClientError as error:
            return Kept(name, str(error.response.get("Error", {}).get("Code", "ClientError")))
        except BotoCoreError as error:
            return Kept(name, type(error).__name__)
        except Exception as error:  # a bug of ours must not change the answer: said, not raised
            return Kept(name, f"error {type(error).__name__}")
        return Kept(name)

    def _s3(self) -> Any:
        if self._client is None:
            self._client = self._session.client("s3", config=CLIENT_CONFIG)
        return self._client


def _payload(source: Source, request: WebhookRequest) -> Mapping[str, Any]:
    try:
        return source.read(request)
    except (MalformedBodyError, UnsupportedMediaTypeError):
        return {}


def _described(source: Source, payload: Mapping[str, Any]) -> str | None:
    """What the phone place held when it is no phone: how many digits, and the last two beyond six."""
    written = next(source.phones(payload), None) if payload else None
    if written is None or not written.text:
        return None
    digits = [ch for ch in plain(written.text) if ch.isdigit()]
    if not digits:
        return "no digits"
    ending = f", ending {''.join(digits[-2:])}" if len(digits) > _SHOWN_DIGITS else ""
    return f"{len(digits)} digits{ending}"


def _places(source: Source) -> tuple[str, ...]:
    return tuple(place.text for place in source.recipe.phone) if isinstance(source, RecipeSource) else ()


def _without_credentials(source: Source, request: WebhookRequest) -> bytes | None:
    """The body as received, less any credential it carries (Wufoo's HandshakeKey, a recipe's `body:` token):
    whoever may read kept refusals must not learn how to sign a delivery. The field is taken out of the JSON
    or form it is in (however the sender spelled its value), and the rest written again in that format; a
    body it cannot be taken out of (multipart, a place that is not plain keys) is not kept (None)."""
    paths = _credential_paths(source)
    if not paths:
        return request.body
    media_type = request.media_type or (JSON if request.body.lstrip().startswith(b"{") else FORM)
    try:
        if media_type == FORM or media_type.endswith("+x-www-form-urlencoded"):
            names = {path[0] for path in paths if len(path) == 1}
            if len(names) < len(paths):
                return None
            pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            return urlencode([(key, value) for key, value in pairs if key not in names]).encode()
        if media_type == JSON or media_type.endswith("+json"):
            document = json.loads(request.body)
            for path in paths:
                *parents, last = path
                found = document
                for key in parents:
                    found = found.get(key) if isinstance(found, dict) else None
                if isinstance(found, dict):
                    found.pop(last, None)
            return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return None


def _credential_paths(source: Source) -> list[tuple[str, ...]]:
    """The body places a source's credentials are read from, as key paths ([()] for one that is not plain keys)."""
    if not isinstance(source, RecipeSource):
        return []
    paths = []
    for one in source.recipe.credentials:
        check = one.check
        for place in check.places if isinstance(check, Token) else ():
            if place.kind == "body" and place.body_place is not None:
                steps = place.body_place.steps
                plain = all(not step.filters and step.key not in ("~", "*") for step in steps)
                paths.append(tuple(step.key for step in steps) if plain else ())
    return paths


def _read_headers(source: Source) -> frozenset[str]:
    """The headers a replay may need (the content type, the delivery id's, the event filter's), less any a
    credential is read from."""
    if not isinstance(source, RecipeSource):
        return frozenset({"content-type"})
    recipe = source.recipe
    needed = (*recipe.delivery_id, *((recipe.events.place,) if recipe.events is not None else ()))
    wanted = {"content-type"} | {place.name for place in needed if place.kind == "header"}
    credential = {"authorization"}
    for one in recipe.credentials:
        check = one.check
        read = check.places if isinstance(check, Token) else (check.signature, check.timestamp)
        credential |= {place.name for place in read if place is not None and place.kind == "header"}
    return frozenset(wanted - credential)


def _body(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedMessageError("the kept refusal's body is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessageError("the kept refusal's body is not base64 text") from None


def _headers(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise MalformedMessageError("the kept refusal's headers are not names and values")
    return {name.lower(): text for name, text in value.items()}


def _time(value: object) -> float:
    # Epoch seconds: a NaN, an infinity or an integer too large for a float fails the comparison.
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < _LATEST:
        raise MalformedMessageError("the kept refusal's times are not times")
    return float(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedMessageError("the kept refusal holds a value that is not text")
    return value[:500]


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedMessageError("the kept refusal's places are not a list")
    return value
