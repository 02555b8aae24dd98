"""The recipe language (docs/senders.md, "Recipes"): phone names by word, list indexes, the ping, the event
filter, and the field tables kept equal to the loader's fields and defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from owner_webhook.request import WebhookRequest
from owner_webhook.sources import registry
from owner_webhook.sources.checks import MAX_PING_BYTES, id_place, ping
from owner_webhook.sources.fields import names_a_phone
from owner_webhook.sources.places import PlaceError, parse
from owner_webhook.sources.recipe import (
    CREDENTIAL_REQUIRED,
    EVENT_FIELDS,
    FIELDS,
    HMAC_FIELDS,
    REQUIRED,
    TOKEN_FIELDS,
    RecipeError,
    RecipeSource,
)
from owner_webhook.sources.recipe import parse as parse_recipe
from tests.conftest import ROOT

SOURCES = registry()
DOC = (ROOT / "docs" / "senders.md").read_text()


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("phone", True),
        ("Phone", True),
        ("PHONE", True),
        ("Phone Number", True),
        ("phone_number", True),
        ("phoneNumber", True),
        ("PhoneNumber2", True),
        ("phone2", True),
        ("mobile_phone", True),
        ("mobilePhone", True),
        ("Mobile", True),
        ("cellphone", True),
        ("Cell", True),
        ("GSM", True),
        ("gsm_no", True),
        ("GSMNumber", True),
        ("Telefon", True),
        ("TELEFON", True),
        ("Telefonnummer", True),
        ("cep_telefonu", True),
        ("Cep Telefonu", True),
        ("Telefon Numarası", True),
        ("telephone", True),
        ("Téléphone", True),
        ("teléfono", True),
        ("telefone", True),
        ("Mobiltelefon", True),
        ("q4_phoneNumber", True),
        ("your-phone", True),
        ("billingPhone", True),
        ("Cancellation policy", False),
        ("cancellation_reason", False),
        ("Miscellaneous", False),
        ("Automobile", False),
        ("automobile_make", False),
        ("Excellence", False),
        ("Immobilie", False),
        ("email", False),
        ("name", False),
        ("", False),
        # Decomposed (NFD) and composed forms of the same name: an accent may come as a letter of its own.
        ("Tele\u0301fono", True),
        ("TELE\u0301FONO", True),
        ("Nu\u0301mero de tele\u0301fono", True),
        ("Teléfono", True),
    ],
)
def test_a_name_names_a_phone_by_its_words(key: str, names: bool) -> None:
    assert names_a_phone(key) is names


_PIECES = ["phone", "Phone", "PHONE", "mobile", "Cell", "GSM", "telefon", "Number", "no", "x", "A", "auto", "Can"]


@given(st.lists(st.sampled_from([*_PIECES, "_", " ", "-", "2", "."]), max_size=6).map("".join))
def test_ascii_names_are_split_into_the_same_words_as_any_other(name: str) -> None:
    # ASCII names take a faster way to their words; "·" (not a letter) in front sends one the general way.
    assert names_a_phone(name) is names_a_phone("·" + name)


@pytest.mark.parametrize(
    ("place", "document", "found"),
    [
        ("a[0].p", {"a": [{"p": "1"}, {"p": "2"}]}, ["1"]),
        ("a[1].p", {"a": [{"p": "1"}, {"p": "2"}]}, ["2"]),
        ("a[-1].p", {"a": [{"p": "1"}, {"p": "2"}]}, ["2"]),
        ("a[-2].p", {"a": [{"p": "1"}, {"p": "2"}]}, ["1"]),
        ("a[2].p", {"a": [{"p": "1"}, {"p": "2"}]}, []),  # beyond the list: not found, never an error
        ("a[-3].p", {"a": [{"p": "1"}, {"p": "2"}]}, []),
        ("a[999999].p", {"a": []}, []),
        ("a[0].p", {"a": {"p": "1"}}, []),  # not a list
        ("a[0]", {"a": ["x", "y"]}, ["x"]),
        ("a[].p", {"a": [{"p": "1"}, {"p": "2"}]}, ["1", "2"]),  # every item
        ("a[t=m][0].p", {"a": [{"t": "h", "p": "1"}, {"t": "m", "p": "2"}, {"t": "m", "p": "3"}]}, ["2"]),
        ("a[0][t=m].p", {"a": [{"t": "h", "p": "1"}, {"t": "m", "p": "2"}]}, []),  # of the first, those of type m
        ("attendees[0].phoneNumber", {"attendees": [{"phoneNumber": "+905551234567"}]}, ["+905551234567"]),
        ("~", {"Cancellation policy": "I agree", "Phone": "0555"}, ["0555"]),
        ("~", {"phone_type": "mobile", "phone": "0555"}, ["mobile", "0555"]),  # both named so, in order
        ("q[question~].answer", {"q": [{"question": "Cancellation policy", "answer": "x"}]}, []),
    ],
)
def test_places_with_indexes_and_names(place: str, document: dict[str, Any], found: list[str]) -> None:
    assert list(parse(place).texts(document)) == found


@pytest.mark.parametrize("place", ["a[1.5]", "a[x]", "a[0", "a[--1]", "a[1234567]", "a[ 0]"])
def test_indexes_that_cannot_be_read(place: str) -> None:
    with pytest.raises(PlaceError):
        parse(place)


def _request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(body, {k.lower(): v for k, v in (headers or {}).items()}, {})


@pytest.mark.parametrize(
    ("template", "body", "matches"),
    [
        ("webhook_id={digits}", b"webhook_id=42", True),
        ("webhook_id={digits}", b"webhook_id=18446744073709551615", True),
        ("webhook_id={digits}", b"webhook_id=123456789012345678901", False),  # at most 20 digits
        ("webhook_id={digits}", b"webhook_id=", False),
        ("webhook_id={digits}", b"webhook_id=4a", False),
        ("webhook_id={digits}", b"webhook_id=42&phone=05551234567", False),
        ("webhook_id={digits}", b"xwebhook_id=42", False),
        ("webhook_id={digits}", b"webhook_id=\xd9\xa4", False),  # Arabic-Indic digits are not ASCII ones
        ("{digits}", b"7", True),
        ("a={digits}&b={digits}", b"a=1&b=22", True),
        ("a={digits}&b={digits}", b"a=1&b=", False),
        ("ping", b"ping", True),
        ("ping", b"pingping", False),
    ],
)
def test_a_ping_is_text_with_digits(template: str, body: bytes, matches: bool) -> None:
    assert ping(template).matches(body) is matches


@pytest.mark.parametrize(
    "template",
    [
        "a{4294967296}",  # the adversary's: Python raised OverflowError compiling it
        "(" * 1000 + "a" + ")" * 1000,  # and RecursionError for this one
        "(a+)+$",  # and this took 33 s on 31 bytes, before authentication
        "webhook_id=[0-9]{1,20}",  # the old preset's regular expression: refused, not misread
        "webhook_id=\\d+",
        "a|b",
        "{digits}{digits}",  # two holes side by side: which digits are whose?
        "{digits}1",
        "{number}",
        "{digits",
        "digits}",
        "",
        "x" * (MAX_PING_BYTES + 1),
    ],
)
def test_a_ping_that_is_not_text_with_digits_is_refused_by_name(template: str) -> None:
    with pytest.raises(RecipeError) as raised:
        parse_recipe("mine", {**GOOD, "ping": template})
    assert raised.value.field == "ping"


def test_a_ping_longer_than_its_limit_is_no_ping_whatever_it_holds() -> None:
    long_digits = ping("{digits}")
    assert not long_digits.matches(b"1" * (MAX_PING_BYTES + 1))


GOOD: dict[str, Any] = {"credential": {"token": "bearer"}, "phone": ["phone"], "retries": False}


@pytest.mark.parametrize(
    ("events", "field"),
    [
        ("BOOKING_CREATED", "events"),
        ({"place": "triggerEvent"}, "events"),
        ({"place": "triggerEvent", "accept": ["BOOKING_CREATED"], "also": 1}, "events"),
        ({"place": "triggerEvent", "accept": "BOOKING_CREATED"}, "events.accept"),
        ({"place": "triggerEvent", "accept": []}, "events.accept"),
        ({"place": "triggerEvent", "accept": [""]}, "events.accept"),
        ({"place": "triggerEvent", "accept": [1]}, "events.accept"),
        ({"place": "a[b", "accept": ["x"]}, "events.place"),
        ({"place": "header:", "accept": ["x"]}, "events.place"),
    ],
)
def test_an_invalid_event_filter_names_its_field(events: Any, field: str) -> None:
    with pytest.raises(RecipeError) as raised:
        parse_recipe("mine", {**GOOD, "events": events})
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("place", "request_headers", "payload", "takes"),
    [
        ("triggerEvent", {}, {"triggerEvent": "BOOKING_CREATED"}, True),
        ("triggerEvent", {}, {"triggerEvent": "BOOKING_CANCELLED"}, False),
        ("triggerEvent", {}, {"triggerEvent": "PING"}, False),  # Cal.com's test button
        ("triggerEvent", {}, {"triggerEvent": "booking_created"}, False),  # exact, as the sender names it
        ("triggerEvent", {}, {}, True),  # no event named: taken as any delivery
        ("header:X-Topic", {"X-Topic": "customers/create"}, {}, True),
        ("header:X-Topic", {"x-topic": " customers/create "}, {}, True),
        ("header:X-Topic", {"X-Topic": "orders/create"}, {}, False),
        ("header:X-Topic", {}, {}, True),
        ("payload.kind", {}, {"payload": {"kind": "BOOKING_CREATED"}}, True),
    ],
)
def test_an_event_filter_takes_the_events_it_names(
    place: str, request_headers: dict[str, str], payload: dict[str, Any], takes: bool
) -> None:
    accept = ["BOOKING_CREATED", "customers/create"]
    source = RecipeSource(parse_recipe("mine", {**GOOD, "events": {"place": place, "accept": accept}}))
    assert source.accepts(_request(json.dumps(payload).encode(), request_headers), lambda: payload) is takes


def test_a_recipe_without_an_event_filter_takes_everything_but_its_ping() -> None:
    zapier, woocommerce = SOURCES["zapier"], SOURCES["woocommerce"]
    assert zapier.accepts(_request(b"webhook_id=42"), lambda: {"webhook_id": "42"})
    assert not woocommerce.accepts(_request(b"webhook_id=42"), dict)


# docs/senders.md's table of the presets' event filters: | `source` | `place` (or the `Name` header) | `event` |
_FILTER_ROW = re.compile(
    r"^\| `(?P<source>[a-z]+)` \| (?:the )?`(?P<place>[^`]+)`(?P<header> header)? \| `(?P<event>[^`]+)`", re.M
)


def test_the_presets_event_filters_are_the_docs_table() -> None:
    block = DOC[DOC.index("| source | the event is named in | taken |") :]
    documented = {
        row["source"]: (id_place(("header:" if row["header"] else "") + row["place"]), frozenset({row["event"]}))
        for row in _FILTER_ROW.finditer(block[: block.index("\n\n")])
    }
    filters = {name: source.recipe.events for name, source in SOURCES.items() if isinstance(source, RecipeSource)}
    assert {name: (found.place, found.accept) for name, found in filters.items() if found is not None} == documented
    assert {"typeform", "webflow", "shopify", "woocommerce", "stripe", "calendly", "formbricks"} <= set(documented)


def test_an_extending_recipe_may_turn_its_presets_filter_off(tmp_path: Path) -> None:
    (tmp_path / "all-topics.json").write_text('{"extends": "shopify", "events": null}')
    source = registry(recipes=tmp_path)["all-topics"]
    assert isinstance(source, RecipeSource)
    assert source.recipe.events is None


# docs/senders.md's field tables: | `field` | default | what it says |
_ROW = re.compile(r"^\| `(?P<field>[a-z_]+)` \| (?P<default>[^|]+?) \| ", re.MULTILINE)


def _table(title: str) -> dict[str, str]:
    """The rows of the table under `title` in docs/senders.md."""
    start = DOC.index(title)
    block = DOC[start : DOC.index("\n\n", DOC.index("| --- |", start))]
    return {row["field"]: row["default"] for row in _ROW.finditer(block)}


def _written(name: str, default: Any, required: tuple[str, ...]) -> str:
    """A default as the docs write it."""
    if name in required:
        return "required"
    if default is None:
        return "none"
    if isinstance(default, str) and default:
        return f"`{default}`"
    return f"`{json.dumps(default)}`"


def test_the_field_tables_are_the_loaders_fields_with_their_defaults() -> None:
    recipe = _table("| field | default | what it says |")
    assert recipe == {
        **{name: _written(name, default, REQUIRED) for name, default in FIELDS.items()},
        "extends": "none",
    }
    credential = _table("| credential field | default | what it says |")
    assert credential == {
        **{name: _written(name, default, CREDENTIAL_REQUIRED) for name, default in TOKEN_FIELDS.items()},
        **{name: _written(name, default, CREDENTIAL_REQUIRED) for name, default in HMAC_FIELDS.items()},
    }
    events = _table("| events field | default | what it says |")
    assert events == dict.fromkeys(EVENT_FIELDS, "required")
