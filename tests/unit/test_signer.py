"""`make send` signs as each sender signs, from its recipe (docs/senders.md, "Wire a sender locally"): the
signer's signatures equal the vendors' published vectors, and every kind of credential a recipe can name is put
where that recipe's check reads it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest

from owner_webhook.request import WebhookRequest
from owner_webhook.sources import registry
from owner_webhook.sources.recipe import RecipeSource, parse
from owner_webhook.sources.secret import WebhookSecret
from sandbox import signer
from sandbox.events import HttpRequest
from tests.unit import test_recipes, test_signatures

SOURCES = registry()


def _recipe(name: str) -> Any:
    source = SOURCES[name]
    assert isinstance(source, RecipeSource)
    return source.recipe


def _signed(
    name: str, body: bytes, secret: str, now: float, headers: dict[str, str] | None = None, url: str = ""
) -> Any:
    request = HttpRequest("POST", f"/webhooks/{name}", body, headers or {})
    return signer.sign(request, _recipe(name), secret, now, url=url or None)


# Each vendor's vector: (route, body, the headers it gives before signing, secret, url, time, the header the
# vendor's signature is in, what the signer must write there).
VECTORS: dict[str, tuple[str, bytes, dict[str, str], str, str, float, str, str]] = {
    "typeform": ("typeform", test_signatures.TYPEFORM_BODY, {}, "typeform-test-secret", "", 0,
                 "typeform-signature", "sha256=x6X0d/MmGNAcncxiTklgO62+o+yv7eQteXJRN6mJWno="),
    "tally": ("tally", test_signatures.TALLY_BODY, {}, "tally-test-secret", "", 0,
              "tally-signature", "GAAh7bBh4DbaXS2BY8I4pTtSyyjVk92NHI78Gh18isQ="),
    "webflow": ("webflow", test_signatures.WEBFLOW_BODY, {}, "webflow-test-secret", "", 1735689600.0,
                "x-webflow-signature", "d1b13600cc20d93eac5d0379a758f84953a9bf525dcb52e7eb89763bad2ed1a9"),
    "standard webhooks (generic)": ("generic", b'{"test": 2432232314}', {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek"},
                                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", 1614265330.0,
                                    "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
}  # fmt: skip
# The vendors' vectors of tests/unit/test_recipes.py, signed at the time each was (Stripe's t=, not when verified).
SIGNED_AT = {"stripe": 1533204620.0}
for _name in ("shopify", "woocommerce", "stripe", "hubspot", "formstack", "formbricks"):
    _source, _body, _given, _secret, _url, _now = test_recipes.PUBLISHED[_name]
    _header, _value = next((k, v) for k, v in _given.items() if "signature" in k.lower() or "hmac" in k.lower())
    _kept = {k: v for k, v in _given.items() if k.lower() in ("webhook-id", "content-type")}
    _at = SIGNED_AT.get(_name, _now or 0.0)
    VECTORS[_name] = (_source, _body, _kept, _secret, _url or "", _at, _header.lower(), _value)


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_the_signature_equals_the_vendors_published_vector(vector: str) -> None:
    source, body, given, secret, url, now, header, published = VECTORS[vector]
    signed = _signed(source, body, secret, now, given, url)
    written = signed.headers[header]
    if source == "stripe":  # Stripe's vector holds two signatures (v1, v0): ours is its v1, with its time
        assert written == ",".join(published.split(",")[:2])
    else:
        assert written == published


def test_framer_signs_the_body_then_the_submission_id_as_its_help_says() -> None:
    # Framer publishes no vector: the independent computation of tests/unit/test_recipes.py.
    secret, submission, body = "0123456789abcdef0123456789abcdef", "0fbbb90e-564b-4870-ac8b", b'{"Phone":"1"}'
    signed = _signed("framer", body, secret, 0, {"Framer-Webhook-Submission-Id": submission})
    expected = hmac.new(secret.encode(), body + submission.encode(), hashlib.sha256).hexdigest()
    assert signed.headers["framer-signature"] == f"sha256={expected}"


def test_what_the_signed_content_covers_and_the_request_lacks_is_added_one_per_body() -> None:
    now = time.time()
    first = _signed("framer", b'{"Phone": "1"}', "s" * 32, now)
    again = _signed("framer", b'{"Phone": "1"}', "s" * 32, now)
    other = _signed("framer", b'{"Phone": "2"}', "s" * 32, now)
    assert first.headers["framer-webhook-submission-id"] == again.headers["framer-webhook-submission-id"]
    assert first.headers["framer-webhook-submission-id"] != other.headers["framer-webhook-submission-id"]
    standard = _signed("generic", b"{}", "whsec_" + base64.b64encode(b"k" * 32).decode(), now)
    assert standard.headers["webhook-id"].startswith("msg_")
    assert standard.headers["webhook-timestamp"] == str(int(now))


# Every place a token may be in, and the body it travels with.
TOKENS = {
    "header:X-Token": (b'{"phone": "1"}', "application/json"),
    "query:key": (b'{"phone": "1"}', "application/json"),
    "bearer": (b'{"phone": "1"}', "application/json"),
    "basic": (b'{"phone": "1"}', "application/json"),
    "body:HandshakeKey": (b"phone=1&name=Ay%C5%9Fe", "application/x-www-form-urlencoded"),
    "body:auth.key": (b'{"phone": "1"}', "application/json"),
}


@pytest.mark.parametrize("place", sorted(TOKENS))
def test_a_token_goes_where_the_recipe_reads_it_and_only_the_right_one_passes(place: str) -> None:
    body, media_type = TOKENS[place]
    accept = ["json", "form"]
    recipe = parse("mine", {"body": accept, "credential": {"token": place}, "phone": ["phone"], "retries": True})
    secret = "user:a-token-of-mine" if place == "basic" else "a-token-of-mine"
    for token, passes in ((secret, True), (secret + "x", False)):
        request = signer.sign(
            HttpRequest("POST", "/webhooks/mine", body, {"content-type": media_type}), recipe, token, 0
        )
        query = dict(pair.split("=", 1) for pair in request.query.split("&") if pair)
        checked = WebhookRequest(request.body, dict(request.headers), query)
        if passes:
            RecipeSource(recipe).verify(checked, WebhookSecret.of(secret))
        else:
            with pytest.raises(Exception, match="token"):
                RecipeSource(recipe).verify(checked, WebhookSecret.of(secret))
    assert b"phone" in request.body  # the payload kept


def test_the_shown_request_holds_no_secret() -> None:
    for name, secret in (("jotform", "tok-jotform-123"), ("zapier", "tok-zapier-123"), ("shopify", "sec-shopify-1")):
        request = _signed(name, b"submissionID=1", secret, time.time())
        shown = signer.shown(request, _recipe(name), secret)
        assert secret not in repr(shown)
        assert "<secret>" in repr(shown)
        signature = next((v for k, v in request.headers.items() if "hmac" in k), None)
        assert signature is None or signature not in repr(shown)


def test_woocommerce_keys_with_the_secrets_html_entities_decoded_as_wordpress_does() -> None:
    body, secret = b'{"billing": {"phone": "1"}}', "s&amp;cret &lt;1&gt; &quot;q&quot;"
    signed = _signed("woocommerce", body, secret, 0)
    expected = base64.b64encode(hmac.new(b's&cret <1> "q"', body, hashlib.sha256).digest()).decode()
    assert signed.headers["x-wc-webhook-signature"] == expected


@pytest.mark.parametrize(
    "credential",
    [
        {"signature": "query:sig", "signed": "{timestamp}{body}", "timestamp": "query:ts"},
        {"signature": "header:X-Sig", "pairs": "v1", "signed": "{timestamp}.{body}", "timestamp": "header:X-Ts"},
        {"signature": "header:X-Sig", "signed": "{timestamp}.{body}", "timestamp": "query:ts"},
        {"signature": "header:X-Sig", "pairs": "v1", "signed": "{timestamp}.{body}", "timestamp": "pair:t"},
    ],
)
def test_a_timestamp_goes_where_the_recipe_reads_it(credential: dict[str, str]) -> None:
    """A recipe of your own may read its timestamp from the query, a header of its own beside paired signatures,
    or the pairs: what make send signs, the function verifies."""
    import time

    recipe = parse("mine", {"credential": credential, "phone": ["phone"], "retries": True})
    now = time.time()
    request = signer.sign(HttpRequest("POST", "/webhooks/mine", b'{"phone": "1"}', {}), recipe, "a-secret", now)
    query = dict(pair.split("=", 1) for pair in request.query.split("&") if pair)
    RecipeSource(recipe).verify(
        WebhookRequest(request.body, dict(request.headers), query), WebhookSecret.of("a-secret")
    )


def test_a_recipe_keyed_by_a_whsec_secret_gets_a_local_secret_it_takes() -> None:
    """make serve's local secret for a recipe whose HMAC key is a Standard Webhooks key (`"key": "whsec"`): one
    its own route takes, not a plain one it refuses as invalid."""
    import time

    from sandbox import local_secrets

    credential = {"signature": "header:webhook-signature", "key": "whsec", "signed": "{timestamp}.{body}"}
    recipe = parse("mine", {"credential": {**credential, "timestamp": "header:webhook-timestamp"}, "phone": ["phone"],
                            "retries": True})  # fmt: skip
    secret = local_secrets.webhook_secret("mine", RecipeSource(recipe))
    assert secret.startswith("whsec_")
    request = signer.sign(HttpRequest("POST", "/webhooks/mine", b'{"phone": "1"}', {}), recipe, secret, time.time())
    RecipeSource(recipe).verify(WebhookRequest(request.body, dict(request.headers), {}), WebhookSecret.of(secret))
