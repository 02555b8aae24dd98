"""Recipes: the presets against their vendors' published vectors, the places, rotation, and invalid recipes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from pathlib import Path
from typing import Any

import pytest

from owner_webhook.errors import SettingError, UnauthenticatedError, WebhookSecretInvalidError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import get_source, registry
from owner_webhook.sources.places import PlaceError, parse
from owner_webhook.sources.presets import PRESETS
from owner_webhook.sources.recipe import RecipeError, RecipeSource
from owner_webhook.sources.recipe import parse as parse_recipe
from owner_webhook.sources.secret import WebhookSecret
from tests.conftest import first

SOURCES = registry()
VECTORS = Path(__file__).parent / "vectors"


def _request(
    body: bytes, headers: dict[str, str], query: dict[str, str] | None = None, url: str = ""
) -> WebhookRequest:
    return WebhookRequest(body, {k.lower(): v for k, v in headers.items()}, query or {}, url)


def _at(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    monkeypatch.setattr(time, "time", lambda: now)


# Each vendor's own vector: (source, body, headers, secret, url, the time to verify at).
PUBLISHED = {
    # Shopify/shopify-api-js, its webhook validation test.
    "shopify": ("shopify", b'{"foo": "bar"}', {"X-Shopify-Hmac-Sha256": "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="},
                "test_secret_key", None, None),
    # woocommerce tests/legacy/unit-tests/webhooks/crud.php: an empty secret, the body "secret".
    "woocommerce": ("woocommerce", b"secret",
                    {"X-WC-Webhook-Signature": "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="}, "", None, None),
    # stripe-dotnet event_test_signature.json and its EventUtilityTest (any of several signatures; v0 ignored).
    "stripe": ("stripe", (VECTORS / "stripe-event_test_signature.json").read_bytes(), {"Stripe-Signature": (
        "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,"
        "v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef")}, "webhook_secret", None, 1533204720),
    # HubSpot/hubspot-api-python tests/spec/utils/test_signature.py, v3 (method, URL, body, ms timestamp).
    "hubspot": ("hubspot", b"{'example_field':'example_value'}", {
        "X-HubSpot-Signature-v3": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
        "X-HubSpot-Request-Timestamp": "15000000"}, "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
        "https://www.example.com/webhook_uri", 15000.0),
    # A captured Formstack delivery (hookdeck/webhook-skills formstack-webhooks).
    "formstack": ("formstack", b"FormID=6606394&UniqueID=1500878955&HandshakeKey=test", {
        "X-FS-Signature": "sha256=30dff7f180b6d69eab397a5d51719474df490b730514c253e8b5832d3b51b970",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, "test1", None, None),
    # The Standard Webhooks reference library's test, which Formbricks signs by (as generic does).
    "formbricks": ("formbricks", b'{"test": 2432232314}', {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None, 1614265330.0),
}  # fmt: skip


@pytest.mark.parametrize("vector", sorted(PUBLISHED))
def test_published_vectors(monkeypatch: pytest.MonkeyPatch, vector: str) -> None:
    source, body, headers, secret, url, now = PUBLISHED[vector]
    if now is not None:
        _at(monkeypatch, now)
    SOURCES[source].verify(_request(body, headers), WebhookSecret.of(secret, url=url))
    with pytest.raises(UnauthenticatedError):  # and the same with one byte more
        SOURCES[source].verify(_request(body + b" ", headers), WebhookSecret.of(secret, url=url))


def test_hubspot_signs_the_url_as_the_request_came_without_a_configured_one(monkeypatch: pytest.MonkeyPatch) -> None:
    _, body, headers, secret, url, now = PUBLISHED["hubspot"]
    _at(monkeypatch, now)
    SOURCES["hubspot"].verify(_request(body, headers, url=url), WebhookSecret.of(secret))
    with pytest.raises(UnauthenticatedError):  # behind another URL (a custom domain, a stage): set url
        SOURCES["hubspot"].verify(_request(body, headers, url=url + "/"), WebhookSecret.of(secret))


def test_framer_signs_the_body_then_the_submission_id() -> None:
    # Framer publishes no vector: computed here as its help article says.
    secret, submission, body = (
        "0123456789abcdef0123456789abcdef",
        "0fbbb90e-564b-4870-ac8b-78f9bc4e44a6",
        b'{"Phone":"1"}',
    )
    signature = "sha256=" + hmac.new(secret.encode(), body + submission.encode(), hashlib.sha256).hexdigest()
    headers = {"Framer-Signature": signature, "Framer-Webhook-Submission-Id": submission}
    SOURCES["framer"].verify(_request(body, headers), WebhookSecret.of(secret))
    for forged in ({**headers, "Framer-Webhook-Submission-Id": "other"}, {"Framer-Signature": signature}):
        with pytest.raises(UnauthenticatedError):
            SOURCES["framer"].verify(_request(body, forged), WebhookSecret.of(secret))


def _stripe_style(secret: str, body: bytes, t: int, *extra: str) -> str:
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return ",".join([f"t={t}", *extra, f"v1={v1}"])


@pytest.mark.parametrize("source", ["stripe", "calendly"])
@pytest.mark.parametrize(("skew", "ok"), [(-290, True), (290, True), (-310, False), (310, False)])
def test_t_v1_signatures_are_fresh_both_ways(source: str, skew: int, ok: bool) -> None:
    body, header = b'{"a": 1}', {"stripe": "Stripe-Signature", "calendly": "Calendly-Webhook-Signature"}[source]
    request = _request(body, {header: _stripe_style("whsec_k", body, int(time.time()) + skew, "v1=00ff")})
    if ok:
        SOURCES[source].verify(request, WebhookSecret.of("whsec_k"))  # the whsec_ string as it is: the key
    else:
        with pytest.raises(UnauthenticatedError):
            SOURCES[source].verify(request, WebhookSecret.of("whsec_k"))


@pytest.mark.parametrize("source", ["shopify", "stripe", "generic", "zapier", "paperform", "wufoo", "heyflow"])
def test_a_list_of_two_secrets_accepts_either(source: str) -> None:
    from sandbox import senders

    for signing in ("old-secret-1", "new-secret-2"):
        request = senders.request(source, secret=signing)
        event_request = _request(request.body, dict(request.headers), _query(request.query))
        SOURCES[source].verify(event_request, WebhookSecret.of("old-secret-1", "new-secret-2"))
        with pytest.raises(UnauthenticatedError):
            SOURCES[source].verify(event_request, WebhookSecret.of("third-secret-3"))


def _query(text: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(text))


def test_woocommerce_answers_its_creation_ping_without_a_signature() -> None:
    woocommerce = SOURCES["woocommerce"]
    ping = _request(b"webhook_id=42", {"Content-Type": "application/x-www-form-urlencoded"})
    woocommerce.verify(ping, WebhookSecret.of("s"))
    assert not woocommerce.accepts(ping, lambda: woocommerce.read(ping))  # answered ignored: nothing to forward
    for not_a_ping in (b"webhook_id=42&phone=05551234567", b'{"billing": {"phone": "05551234567"}}'):
        with pytest.raises(UnauthenticatedError):
            woocommerce.verify(_request(not_a_ping, {}), WebhookSecret.of("s"))


def test_woocommerce_keys_with_the_secrets_html_entities_decoded() -> None:
    body = b'{"id": 1}'
    signature = base64.b64encode(hmac.new(b"a&b", body, hashlib.sha256).digest()).decode()
    SOURCES["woocommerce"].verify(_request(body, {"X-WC-Webhook-Signature": signature}), WebhookSecret.of("a&amp;b"))


def test_a_whsec_recipe_refuses_a_secret_that_is_not_one() -> None:
    with pytest.raises(WebhookSecretInvalidError, match=r"webhook_secrets\.formbricks must start with whsec_"):
        SOURCES["formbricks"].verify(_request(b"{}", {}), WebhookSecret.of("plain-token"))


@pytest.mark.parametrize(
    ("place", "document", "found"),
    [
        ("billing.phone", {"billing": {"phone": "1"}}, "1"),
        ("billing.phone", {"billing": "x"}, None),
        ("data[type=phone].value", {"data": [{"type": "text", "value": "x"}, {"type": "phone", "value": "2"}]}, "2"),
        ("data[type=phone].value", {"data": {"type": "phone", "value": "2"}}, None),
        ("addresses[].phone", {"addresses": [{"phone": None}, {"phone": "3"}]}, "3"),
        ("a[type=phone][field.ref=m].v", {"a": [{"type": "phone", "field": {"ref": "m"}, "v": "4"}]}, "4"),
        ("q[question~].answer", {"q": [{"question": "Your Phone number", "answer": "5"}]}, "5"),
        ("q[question~].answer", {"q": [{"question": "Name", "answer": "x"}]}, None),
        ("~", {"name": "x", "Mobile Phone": 6}, "6"),
        ("*.phone", {"a": {"phone": ""}, "b": {"phone": "7"}}, "7"),
        ("x", {"x": True}, None),
        ("x", {"x": 1.5}, None),
    ],
)
def test_places(place: str, document: dict[str, Any], found: str | None) -> None:
    assert parse(place).first_text(document) == found


@pytest.mark.parametrize("place", ["", "a..b", "a[", "a[type]", "[type=x]", "a.[]", "a]b", "a[x=1]]"])
def test_places_that_cannot_be_read(place: str) -> None:
    with pytest.raises(PlaceError):
        parse(place)


GOOD: dict[str, Any] = {"credential": {"token": "bearer"}, "phone": ["phone"], "retries": False}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"credential": None}, "credential"),
        ({"credential": {"token": "cookie:x"}}, "credential.token"),
        ({"credential": {"token": []}}, "credential.token"),
        ({"credential": {"signature": "header:X", "hmac": "md5"}}, "credential.hmac"),
        ({"credential": {"signature": "header:X", "encoding": "base32"}}, "credential.encoding"),
        ({"credential": {"signature": "header:X", "signed": "{t}.{body}"}}, "credential.signed"),
        ({"credential": {"signature": "header:X", "signed": "{timestamp}"}}, "credential.signed"),
        ({"credential": {"signature": "header:X", "signed": "{timestamp}.{body}"}}, "credential.timestamp"),
        ({"credential": {"signature": "header:X", "tolerance": 0, "timestamp": "header:T",
                         "signed": "{timestamp}{body}"}}, "credential.tolerance"),
        ({"credential": {"signature": "header:X", "key": "base32"}}, "credential.key"),
        ({"credential": {"signature": "header:X", "timestamp": "pair:t", "signed": "{timestamp}{body}"}},
         "credential.timestamp"),  # a pair only where the signature is pairs
        ({"credential": {"token": "bearer", "hmac": "sha1"}}, "credential.hmac"),
        ({"phone": []}, "phone"),
        ({"phone": "phone"}, "phone"),
        ({"phone": ["a[b"]}, "phone"),
        ({"region": ["a[b"]}, "region"),
        ({"delivery_id": "id"}, "delivery_id"),
        ({"body": ["xml"]}, "body"),
        ({"refusals": "sometimes"}, "refusals"),
        ({"retries": "yes"}, "retries"),
        ({"ping": "("}, "ping"),
    ],
)  # fmt: skip
def test_an_invalid_recipe_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(RecipeError) as raised:
        parse_recipe("mine", {**GOOD, **change})
    assert raised.value.field == field


def test_every_recipe_of_the_deployment_is_valid() -> None:
    # Yours in src/owner_webhook/recipes/ too: make test refuses what would answer 503 once deployed.
    for name, source in SOURCES.items():
        assert isinstance(source, RecipeSource), get_source(SOURCES, name)


def test_every_preset_is_valid_and_says_whether_it_retries() -> None:
    for name, document in PRESETS.items():
        source = SOURCES[name]
        assert isinstance(source, RecipeSource), name
        assert isinstance(document["retries"], bool), name
    assert {name for name, source in SOURCES.items() if not source.acknowledges_refusals} == {"zapier", "generic"}
    never_retry = {name for name, source in SOURCES.items() if not source.retries}
    assert {"jotform", "zapier", "woocommerce", "formbricks", "elementor"} <= never_retry
    assert not never_retry & {"typeform", "tally", "webflow", "generic", "shopify", "stripe", "calendly", "hubspot"}


def test_an_invalid_recipe_file_answers_invalid_setting_and_the_others_keep_working(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text('{"credential": {"token": "bearer"}, "phone": ["a[b"], "retries": false}')
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "signup-form.json").write_text('{"extends": "formstack", "phone": ["Mobile Number"]}')
    sources = registry(recipes=tmp_path)
    for name, field in (("mine", "phone"), ("broken", "(file)")):
        with pytest.raises(SettingError, match=re.escape(f"the recipe {name} is invalid: {field}")):
            get_source(sources, name)
    assert first(get_source(sources, "signup-form").phones({"Mobile Number": "0555"})) == "0555"
    assert get_source(sources, "shopify") is not None


def test_a_recipe_the_parser_fails_on_fails_its_route_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from owner_webhook import sources

    def parse_with_a_bug(name: str, document: Any) -> Any:
        if name == "mine":
            raise RecursionError("a bug of the parser's, met by this file")
        return parse_recipe(name, document)

    monkeypatch.setattr(sources, "parse", parse_with_a_bug)
    (tmp_path / "mine.json").write_text('{"credential": {"token": "bearer"}, "phone": ["phone"], "retries": false}')
    found = registry(recipes=tmp_path)
    with pytest.raises(SettingError, match=re.escape("the recipe mine is invalid: (recipe): cannot be read")):
        get_source(found, "mine")
    assert isinstance(get_source(found, "zapier"), RecipeSource)


def test_a_region_where_the_payload_states_one() -> None:
    shopify = SOURCES["shopify"]
    assert shopify.phone_region({"default_address": {"country_code": "CA"}}) == "CA"
    assert shopify.phone_region({"default_address": {"country_code": "XX"}}) is None
    assert shopify.phone_region({}) is None
    assert SOURCES["woocommerce"].phone_region({"billing": {"country": "us"}}) == "US"
    assert SOURCES["typeform"].phone_region({"anything": "TR"}) is None


def test_every_sender_has_its_sample_and_its_row_in_the_docs() -> None:
    from sandbox import senders
    from sandbox.senders import _recipe

    docs = (Path(__file__).parents[2] / "docs" / "senders.md").read_text()
    for name in PRESETS:
        assert f"| `{name}` |" in docs, name
        sender = senders.sender(name)
        assert sender.attempts(503) >= 1
        if isinstance(sender, _recipe.RecipeSender):
            assert sender.sample["origin"], name  # where its payload came from
