"""Signature checks, one table per sender: the published vectors, independent computations, forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from owner_webhook.errors import UnauthenticatedError, WebhookSecretInvalidError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import registry
from owner_webhook.sources.secret import WebhookSecret

SOURCES = registry()

# Vectors computed with each sender's documented recipe over these exact bodies (no trailing newline).
TYPEFORM_BODY = (
    b'{"event_id":"01HZX0EXAMPLE","event_type":"form_response","form_response":{"form_id":"abc123","token":"tok_1",'
    b'"answers":[{"type":"phone_number","phone_number":"+905551234567","field":{"id":"Fld1","type":"phone_number",'
    b'"ref":"phone"}}]}}'
)
TALLY_BODY = (
    b'{"eventId":"evt-1","eventType":"FORM_RESPONSE","createdAt":"2025-01-01T00:00:00.000Z","data":{"responseId":"r1",'
    b'"submissionId":"s1","respondentId":"p1","formId":"f1","formName":"Signup","createdAt":"2025-01-01T00:00:00.000Z",'
    b'"fields":[{"key":"question_ph","label":"Phone","type":"INPUT_PHONE_NUMBER","value":"+905551234567"}]}}'
)
WEBFLOW_BODY = (
    b'{"triggerType":"form_submission","payload":{"name":"Signup","siteId":"s1","data":{"Phone":"+905551234567"},'
    b'"submittedAt":"2025-01-01T00:00:00.000Z","id":"sub1"}}'
)


def _request(body: bytes, headers: dict[str, str], query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, query=query or {})


def _verify(source: str, body: bytes, headers: dict[str, str], secret: str) -> None:
    SOURCES[source].verify(_request(body, headers), WebhookSecret.of(secret))


def test_published_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    _verify(
        "typeform",
        TYPEFORM_BODY,
        {"Typeform-Signature": "sha256=x6X0d/MmGNAcncxiTklgO62+o+yv7eQteXJRN6mJWno="},
        "typeform-test-secret",
    )
    _verify(
        "tally", TALLY_BODY, {"Tally-Signature": "GAAh7bBh4DbaXS2BY8I4pTtSyyjVk92NHI78Gh18isQ="}, "tally-test-secret"
    )
    monkeypatch.setattr(time, "time", lambda: 1735689600.0 + 60)  # a minute after the vector was signed
    _verify(
        "webflow",
        WEBFLOW_BODY,
        {
            "x-webflow-timestamp": "1735689600000",
            "x-webflow-signature": "d1b13600cc20d93eac5d0379a758f84953a9bf525dcb52e7eb89763bad2ed1a9",
        },
        "webflow-test-secret",
    )
    # The Standard Webhooks specification's own vector (its reference library's test).
    monkeypatch.setattr(time, "time", lambda: 1614265330.0)
    _verify(
        "generic",
        b'{"test": 2432232314}',
        {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )


def _independent(source: str, body: bytes, secret: str, now: int) -> dict[str, str]:
    """Each recipe computed here from the senders' documentation, not with the function's code."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if source == "typeform":
        return {"Typeform-Signature": "sha256=" + base64.b64encode(mac).decode()}
    if source == "tally":
        return {"Tally-Signature": base64.b64encode(mac).decode()}
    timestamp = str(now * 1000)
    signed = hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-webflow-timestamp": timestamp, "x-webflow-signature": signed}


@pytest.mark.parametrize("source", ["typeform", "tally", "webflow"])
def test_independently_signed_requests_pass_and_any_change_fails(source: str) -> None:
    secret, body, now = "s3cret-ü", b'{"name": "Ay\xc5\x9fe", "phone": "+905551234567"}', int(time.time())
    headers = _independent(source, body, secret, now)
    _verify(source, body, headers, secret)
    forgeries = [
        (body + b" ", headers, secret),  # tampered body (even whitespace: never re-serialized)
        (body, headers, secret + "x"),  # another secret
        (body, {k: v for k, v in headers.items() if "signature" not in k.lower()}, secret),  # no signature
    ]
    for signature_header in [k for k in headers if "signature" in k.lower()]:
        forgeries.append((body, {**headers, signature_header: headers[signature_header][:-2] + "AA"}, secret))
        forgeries.append((body, {**headers, signature_header: ""}, secret))
    for forged_body, forged_headers, verify_secret in forgeries:
        with pytest.raises(UnauthenticatedError):
            _verify(source, forged_body, forged_headers, verify_secret)


@pytest.mark.parametrize(("skew", "ok"), [(-299, True), (299, True), (-301, False), (301, False), (-86400, False)])
def test_webflow_timestamps_within_five_minutes_both_ways(skew: int, ok: bool) -> None:
    secret, body = "s", WEBFLOW_BODY
    headers = _independent("webflow", body, secret, int(time.time()) + skew)
    if ok:
        _verify("webflow", body, headers, secret)
    else:
        with pytest.raises(UnauthenticatedError):
            _verify("webflow", body, headers, secret)


# Digits that are not a number here: str.isdigit() takes "²" and Arabic-Indic digits, int() refuses more
# than 4,300 digits, and 400 nines overflow the float of a time.
NOT_TIMESTAMPS = ["soon", "9" * 400, "9" * 5000, "²", "١٧٣٥٦٨٩٦٠٠", "-1735689600", "1735689600.5", "\ud800", ""]


@pytest.mark.parametrize("timestamp", NOT_TIMESTAMPS)
def test_a_timestamp_must_be_a_number(timestamp: str) -> None:
    headers = _independent("webflow", WEBFLOW_BODY, "s", int(time.time()))
    with pytest.raises(UnauthenticatedError):
        _verify("webflow", WEBFLOW_BODY, {**headers, "x-webflow-timestamp": timestamp}, "s")
    body = b'{"phone": "1"}'
    with pytest.raises(UnauthenticatedError):
        _verify("generic", body, {**_standard(body), "webhook-timestamp": timestamp}, SW_SECRET)


@pytest.mark.parametrize(
    ("source", "header"),
    [
        ("typeform", "typeform-signature"),
        ("tally", "tally-signature"),
        ("webflow", "x-webflow-signature"),
        ("generic", "webhook-signature"),
        ("generic", "webhook-id"),
        ("zapier", "authorization"),
        ("zapier", "x-webhook-token"),
    ],
)
def test_a_lone_surrogate_in_a_header_is_unauthenticated(source: str, header: str) -> None:
    # Only a hand-made event carries one (a JSON "\ud800" escape), but it must not fail the request.
    body = b'{"phone": "1"}'
    signed = _standard(body) if source == "generic" else _independent(source, body, "s", int(time.time()))
    value = {"authorization": "Bearer \ud800", "webhook-signature": "v1,\ud800"}.get(header, "\ud800")
    with pytest.raises(UnauthenticatedError):
        _verify(source, body, {**signed, header: value}, SW_SECRET if source == "generic" else "s")


SW_SECRET = "whsec_" + base64.b64encode(b"a 32 byte key for standard hooks").decode()


def _standard(body: bytes, secret: str = SW_SECRET, when: float | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    """Signed by the reference client, the `standardwebhooks` package."""
    moment = datetime.fromtimestamp(int(time.time() if when is None else when), tz=UTC)
    signature = Webhook(secret).sign(msg_id, moment, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signature}


def test_standard_webhooks_signed_by_the_reference_client() -> None:
    body = b'{"type": "signup.created", "data": {"phone": "+905551234567"}}'
    _verify("generic", body, _standard(body), SW_SECRET)
    # ... and what passes here passes the reference verifier too.
    Webhook(SW_SECRET).verify(body.decode(), _standard(body))


def test_standard_webhooks_any_of_several_signatures_may_match() -> None:
    body = b'{"phone": "1"}'
    headers = _standard(body)
    old = _standard(body, secret="whsec_" + base64.b64encode(b"the previous key, being rotated!").decode())
    rotating = f"v1a,ed25519sig {old['webhook-signature']} {headers['webhook-signature']}"
    _verify("generic", body, {**headers, "webhook-signature": rotating}, SW_SECRET)


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-id": "msg_2"},  # the id is signed
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": "v2,whatever"},
        {"webhook-signature": ""},
        {"webhook-timestamp": "not-a-number"},
    ],
)
def test_standard_webhooks_forgeries(change: dict[str, str]) -> None:
    body = b'{"phone": "1"}'
    with pytest.raises(UnauthenticatedError):
        _verify("generic", body, {**_standard(body), **change}, SW_SECRET)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_missing_headers(missing: str) -> None:
    body = b'{"phone": "1"}'
    headers = {k: v for k, v in _standard(body).items() if k != missing}
    with pytest.raises(UnauthenticatedError):
        _verify("generic", body, headers, SW_SECRET)


@pytest.mark.parametrize(("skew", "ok"), [(-290, True), (290, True), (-310, False), (310, False)])
def test_standard_webhooks_tolerance_both_ways(skew: int, ok: bool) -> None:
    body = b'{"phone": "1"}'
    headers = _standard(body, when=time.time() + skew)
    if ok:
        _verify("generic", body, headers, SW_SECRET)
    else:
        with pytest.raises(UnauthenticatedError):
            _verify("generic", body, headers, SW_SECRET)


def test_a_bearer_token_does_not_pass_for_a_whsec_secret() -> None:
    with pytest.raises(UnauthenticatedError):
        _verify("generic", b"{}", {"Authorization": f"Bearer {SW_SECRET}"}, SW_SECRET)


@pytest.mark.parametrize("secret", ["whsec_***not base64***", "whsec_", "whsec_===="])
def test_a_whsec_secret_without_a_key_is_a_configuration_error(secret: str) -> None:
    body = b"{}"
    with pytest.raises(WebhookSecretInvalidError):
        _verify("generic", body, _standard(body), secret)


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ({"token": "jt"}, True),
        ({"token": "jt2"}, False),
        ({}, False),
        ({"token": ""}, False),
        ({"token": "\ud800"}, False),
    ],
)
def test_jotform_token_in_the_query(query: dict[str, str], ok: bool) -> None:
    request = _request(b"", {}, query)
    if ok:
        SOURCES["jotform"].verify(request, WebhookSecret.of("jt"))
    else:
        with pytest.raises(UnauthenticatedError):
            SOURCES["jotform"].verify(request, WebhookSecret.of("jt"))
