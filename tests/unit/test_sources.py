"""The automation sources: where the phone is, who may send, and the delivery id."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from owner_webhook.errors import UnauthenticatedError, UnknownSourceError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import NAMES, registry
from owner_webhook.sources import get_source as _get
from owner_webhook.sources.base import Source
from owner_webhook.sources.places import parse
from owner_webhook.sources.secret import WebhookSecret

SOURCES = registry()


def get_source(name: str) -> Source:
    return _get(SOURCES, name)


def _request(headers: dict[str, str] | None = None, body: bytes = b"{}") -> WebhookRequest:
    return WebhookRequest(body=body, headers=headers or {}, query={})


@pytest.mark.parametrize(
    ("fields", "phone"),
    [
        ({"phone": "0555"}, "0555"),
        ({"Phone Number": "0555"}, "0555"),
        ({"TELEFON": "0555"}, "0555"),
        ({"gsm_no": "0555"}, "0555"),
        ({"mobile": "0555"}, "0555"),
        ({"cell": "0555"}, "0555"),
        ({"name": "x", "phone": "", "mobile": "0555"}, "0555"),  # the first non-empty one
        ({"phone": 15550000000}, "15550000000"),  # a number, as Webflow sends it
        ({"phone": 15550000000.0}, "15550000000"),
        ({"phone": True}, None),
        ({"phone": {"full": "0555"}}, None),
        ({"name": "x", "email": "a@b.c"}, None),
        ({}, None),
    ],
)
def test_fields_named_like_a_phone(fields: dict[str, Any], phone: str | None) -> None:
    assert parse("~").first_text(fields) == phone


def _texts(source: Source, payload: dict[str, Any]) -> list[str]:
    return [found.text for found in source.phones(payload)]


def test_generic_looks_inside_data_after_the_top_level() -> None:
    generic = get_source("generic")
    assert _texts(generic, {"data": {"phone": "2"}}) == ["2"]
    assert _texts(generic, {"phone": "1", "data": {"phone": "2"}}) == ["1", "2"]  # tried in this order
    assert _texts(generic, {"data": "phone"}) == []
    assert _texts(get_source("zapier"), {"data": {"phone": "2"}}) == []


@pytest.mark.parametrize(
    ("source", "headers"),
    [
        ("zapier", {"authorization": "Bearer s3cret"}),
        ("zapier", {"authorization": "bearer   s3cret "}),
        ("zapier", {"x-webhook-token": "s3cret"}),
        ("generic", {"authorization": "Bearer s3cret"}),
    ],
)
def test_the_right_token_is_accepted(source: str, headers: dict[str, str]) -> None:
    get_source(source).verify(_request(headers), WebhookSecret.of("s3cret"))


@pytest.mark.parametrize(
    ("source", "headers"),
    [
        ("zapier", {}),
        ("zapier", {"authorization": "Bearer wrong"}),
        ("zapier", {"authorization": "Basic s3cret"}),
        ("zapier", {"authorization": "s3cret"}),
        ("zapier", {"authorization": "Bearer "}),
        ("zapier", {"x-webhook-token": "s3cre"}),
        ("generic", {}),
        ("generic", {"x-webhook-token": "s3cret"}),  # generic takes the Authorization header only
        ("generic", {"authorization": "Bearer s3cret2"}),
    ],
)
def test_a_missing_or_wrong_token_is_refused(source: str, headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError):
        get_source(source).verify(_request(headers), WebhookSecret.of("s3cret"))


def test_delivery_ids() -> None:
    body = b'{"phone": "1"}'
    digest = hashlib.sha256(body).hexdigest()
    zapier, generic = get_source("zapier"), get_source("generic")
    assert zapier.delivery_id(_request({"idempotency-key": "k1"}, body), {}) == "k1"
    assert zapier.delivery_id(_request({}, body), {}) == digest
    assert generic.delivery_id(_request({"webhook-id": "msg_1", "idempotency-key": "k1"}, body), {}) == "msg_1"
    assert generic.delivery_id(_request({"idempotency-key": "k1"}, body), {}) == "k1"
    assert generic.delivery_id(_request({}, body), {}) == digest


def test_registry() -> None:
    assert tuple(SOURCES) == NAMES
    assert all(name == source.name for name, source in SOURCES.items())
    with pytest.raises(UnknownSourceError):
        get_source("myspace")
