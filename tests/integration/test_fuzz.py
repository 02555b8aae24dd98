"""Fuzzing the handler: whatever arrives, a JSON answer with `success`, a 2xx or 4xx status while the
gateway is healthy, no exception, and nothing forwarded without valid authentication.

The promise: docs/security.md.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from owner_webhook.handler import lambda_handler
from sandbox import senders
from sandbox.aws import LOCAL_SECRET, STANDARD_WEBHOOKS_SECRET
from sandbox.events import (
    HttpRequest,
    LocalContext,
    function_url_event,
    http_api_authorizer_event,
    http_api_event,
    rest_api_event,
    rest_authorizer_event,
)
from sandbox.senders import sign
from sandbox.stack import Sandbox

EXAMPLES = 2000
SECONDS = 1.0  # each request takes milliseconds; the bound leaves room for a busy machine
SHAPES = {"http-api": http_api_event, "rest-api": rest_api_event, "function-url": function_url_event}
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "text/plain",
    "application/xml",
    "",
]
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
# Lone surrogates (only a hand-made event carries them) and digits that are not numbers to int().
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
digit_like = st.one_of(
    st.sampled_from(["9" * 400, "9" * 5000, "²", "١٧٣٥٦٨٩٦٠٠", "1e3", "-1", "0x10", "1_000", " 1 "]),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=20),
)
header_values = st.one_of(header_text, header_text, header_text, surrogates, digit_like)
phones = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.sampled_from(["0555 123 45 67", "+905551234567", "+44 7911 123456"]),
)


@pytest.fixture
def standard_webhooks(sandbox: Sandbox) -> Iterator[None]:
    """generic with a whsec_ secret, for this test's examples."""
    sandbox.aws.put_secret(
        {**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "generic": STANDARD_WEBHOOKS_SECRET}}
    )
    yield


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    often = st.integers(0, 9).map(lambda n: n < 7)  # True 70 % of the time: most cases reach the phone
    known = draw(often)
    source = draw(st.sampled_from(senders.SOURCES)) if known else draw(st.text(max_size=20))
    if known and draw(often):
        body, headers = senders.payload(source, draw(phones), draw(st.uuids().map(str) | st.text(max_size=30)))
    else:
        body = draw(st.binary(max_size=400))
        headers = {"content-type": draw(st.sampled_from(CONTENT_TYPES) | header_text)}
    headers |= draw(st.dictionaries(header_text.filter(bool), header_values, max_size=4))
    query = "&".join(f"{k}={v}" for k, v in draw(st.dictionaries(header_text, header_text, max_size=3)).items())
    request = HttpRequest(
        "POST" if draw(often) or draw(often) else draw(st.sampled_from(["GET", "PUT"])),
        f"/webhooks/{source}",
        body,
        headers,
        query,
    )
    signed = known and draw(often)
    if signed:
        request = sign(source, request, LOCAL_SECRET["webhook_secrets"][source])
    event = SHAPES[draw(st.sampled_from(sorted(SHAPES)))](request)
    flag = draw(st.sampled_from(["as sent"] * 6 + ["flipped", "garbage"]))
    if flag == "flipped":
        event["isBase64Encoded"] = not event["isBase64Encoded"]
    elif flag == "garbage":
        event["isBase64Encoded"], event["body"] = True, draw(st.text(max_size=50))
    if draw(st.integers(0, 9)) == 0:
        event[draw(st.sampled_from(["headers", "body", "queryStringParameters"]))] = None
    elif draw(st.integers(0, 4)) == 0:  # values a URL cannot carry: lone surrogates, digits of other kinds
        extra = draw(st.dictionaries(st.sampled_from(["token", "x"]) | header_text, header_values, max_size=2))
        event["queryStringParameters"] = {**(event.get("queryStringParameters") or {}), **extra}
        signed = signed and not (source == "jotform" and "token" in extra)  # Jotform's token is in the query
    if event.get("body") and not event["isBase64Encoded"] and draw(st.integers(0, 9)) == 0:
        event["body"] = base64.b64encode(event["body"].encode()).decode()  # text that only looks encoded
    return event, signed


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=requests())
def test_any_request_gets_a_json_answer_and_nothing_unauthenticated_is_forwarded(
    sandbox: Sandbox, case: tuple[dict[str, Any], bool]
) -> None:
    event, signed = case
    _answered(sandbox, event, signed)


def _answered(sandbox: Sandbox, event: Any, signed: bool) -> dict[str, Any]:
    """Invoke the handler; check the answer is JSON, not a 5xx, in bounded time, and forwarded only if signed."""
    before = len(sandbox.gateway.received)
    started = time.perf_counter()
    result = lambda_handler(event, LocalContext())
    assert time.perf_counter() - started < SECONDS
    answer: dict[str, Any] = json.loads(result["body"])
    assert isinstance(answer["success"], bool)
    assert 200 <= result["statusCode"] < 500, answer
    forwarded = len(sandbox.gateway.received) > before
    if forwarded:
        assert signed, event
    code = answer["error"]["code"] if "error" in answer else "success"
    hypothesis.event(f"answered {result['statusCode']} {code}{' (forwarded)' if forwarded else ''}")
    return {"status": result["statusCode"], **answer}


FEW = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
JOTFORM_TOKEN = LOCAL_SECRET["webhook_secrets"]["jotform"]
RAW = json.dumps({"q4_phoneNumber": {"full": "0555 123 45 67"}})
many = st.integers(0, 20_000)
header_value_parts = st.one_of(
    st.sampled_from(['form-data; name="rawRequest"', 'form-data; name="submissionID"', "form-data", 'name="x"']),
    st.sampled_from(["text/plain; charset=", "text/plain; charset=undefined", "text/plain; charset=rot13"]),
    st.sampled_from(["utf-8", "utf-16", "base64", "latin-1", '"', "\\", "; ", "*0*=utf-8''a", "=?utf-8?q?a?="]),
    many.map(lambda n: " ".join(["=?utf-8?q?a?="] * n)),
    many.map(lambda n: "(" * n),
    many.map(lambda n: ";" * n),
    many.map(lambda n: '";' * n),
    header_text,
)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A multipart body, well-formed or not, with hostile headers and values: (body, boundary)."""
    hostile = draw(st.booleans())  # else only well-formed parts and the answers, so that forms get through
    boundary = "b0undary"
    if hostile:
        boundary = draw(
            st.sampled_from(["b0undary", "x", "-" * 70])
            | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
        )
    names = st.sampled_from(["Content-Disposition", "Content-Type", "Content-Transfer-Encoding"])
    values = header_value_parts if hostile else st.sampled_from(['form-data; name="f"', "text/plain; charset=utf-8"])
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        headers = draw(st.lists(st.tuples(names | header_text if hostile else names, values), max_size=4))
        value = draw(
            st.sampled_from([RAW.encode(), b"6084250982513018472", b""])
            | many.map(lambda n: b"[" * n)
            | many.map(lambda n: b'{"a":' * n)
            | many.map(lambda n: b"\r\n--" * n)
            | st.binary(max_size=60)
        )
        head = "".join(f"{name}: {text}\r\n" for name, text in headers).encode("utf-8", "surrogatepass")
        parts.append(f"--{boundary}\r\n".encode() + head + b"\r\n" + value + b"\r\n")
    if not hostile or draw(st.booleans()):  # the answers as Jotform sends them, among the rest
        answers = f'--{boundary}\r\nContent-Disposition: form-data; name="rawRequest"\r\n\r\n{RAW}\r\n'
        parts.insert(draw(st.integers(0, len(parts))), answers.encode())
    closed = not hostile or draw(st.integers(0, 3)) > 0
    body = b"".join(parts) + (f"--{boundary}--\r\n".encode() if closed else b"")
    if hostile and draw(st.integers(0, 4)) == 0:
        body = body.replace(b"\r\n", b"\n")
    return body[: 256 * 1024], boundary


boundary_params = st.one_of(*[st.sampled_from(["{}", '"{}"', "{};;", "{}" + ";" * 50])] * 3, header_values)


@FEW
@given(form=multipart_bodies(), content_type=boundary_params)
def test_multipart_forms_with_the_token(sandbox: Sandbox, form: tuple[bytes, str], content_type: str) -> None:
    body, boundary = form
    boundary_param = content_type.format(boundary) if "{}" in content_type else content_type
    headers = {"content-type": f"multipart/form-data; boundary={boundary_param}"}
    request = sign("jotform", HttpRequest("POST", "/webhooks/jotform", body, headers), JOTFORM_TOKEN)
    _answered(sandbox, http_api_event(request), signed=True)


@FEW
@given(
    source=st.sampled_from(["webflow", "generic"]),
    header=st.sampled_from(["x-webflow-timestamp", "webhook-timestamp", "webhook-id", "webhook-signature"]),
    value=digit_like | surrogates,
)
def test_timestamps_and_signature_headers_that_are_not_what_they_claim(
    sandbox: Sandbox, standard_webhooks: None, source: str, header: str, value: str
) -> None:
    secret = STANDARD_WEBHOOKS_SECRET if source == "generic" else LOCAL_SECRET["webhook_secrets"][source]
    signed = senders.request(source, secret=secret)
    request = HttpRequest("POST", signed.path, signed.body, {**signed.headers, header: value}, signed.query)
    untouched = header not in {k.lower() for k in signed.headers}  # e.g. webhook-id for webflow
    answer = _answered(sandbox, http_api_event(request), signed=untouched)
    assert untouched or answer["status"] == 401


def _credential_places(request: HttpRequest, secret: str) -> list[tuple[str, str]]:
    """Where this request carries its credential: (header, query or body field, name), as its sender adds it."""
    plain = HttpRequest(request.method, request.path, b"", {}, "")
    signed_alone = senders.sign(request.path.rsplit("/", 1)[-1], plain, secret)
    places = [("header", name) for name in signed_alone.headers]
    places += [("query", name) for name, _ in parse_qsl(signed_alone.query)]
    return places + [("body", name) for name, _ in parse_qsl(signed_alone.body.decode())]


@FEW
@given(source=st.sampled_from(senders.SOURCES), data=st.data(), value=header_values)
def test_every_credential_place_with_what_it_should_not_hold(
    sandbox: Sandbox, standard_webhooks: None, source: str, data: st.DataObject, value: str
) -> None:
    secret = STANDARD_WEBHOOKS_SECRET if source == "generic" else LOCAL_SECRET["webhook_secrets"][source]
    signed = senders.request(source, secret=secret)
    kind, name = data.draw(st.sampled_from(_credential_places(signed, secret)))
    request = signed
    if kind == "header":
        request = HttpRequest("POST", signed.path, signed.body, {**signed.headers, name: value}, signed.query)
    elif kind == "body":  # a token inside the body (Wufoo)
        as_sent = value.encode("utf-8", "surrogatepass")  # a body is bytes: any bytes a sender may send
        fields = [(k.encode(), as_sent if k == name else v.encode()) for k, v in parse_qsl(signed.body.decode())]
        body = urlencode(fields).encode()
        request = HttpRequest("POST", signed.path, body, signed.headers, signed.query)
    event = http_api_event(request)
    if kind == "query":  # in the event, as a URL cannot carry some of these values (lone surrogates)
        event["queryStringParameters"] = {**event["queryStringParameters"], name: value}
    answer = _answered(sandbox, event, signed=False)
    assert answer["status"] == 401, answer


@FEW
@given(source=st.sampled_from(senders.SOURCES), phone=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
))  # fmt: skip
def test_every_phone_place_with_any_json_value(
    sandbox: Sandbox, standard_webhooks: None, source: str, phone: Any
) -> None:
    secret = STANDARD_WEBHOOKS_SECRET if source == "generic" else LOCAL_SECRET["webhook_secrets"][source]
    try:
        request = senders.request(source, phone, secret=secret)
    except (TypeError, ValueError):  # a form sender cannot put a list or an object in a field
        hypothesis.assume(False)
        raise
    _answered(sandbox, http_api_event(request), signed=True)


nested_json = st.integers(0, 100_000).flatmap(
    lambda n: st.sampled_from(
        [b"[" * n, b'{"a":' * n, b'{"phone": "0555 123 45 67", "x": ' + b"[" * n + b"]" * n + b"}"]
    )
)


@FEW
@given(source=st.sampled_from(senders.SOURCES), body=nested_json, form=st.booleans())
def test_deep_nesting_in_signed_bodies(sandbox: Sandbox, source: str, body: bytes, form: bool) -> None:
    if source == "jotform":  # the nesting inside rawRequest, where Jotform puts its JSON
        body = urlencode({"rawRequest": body.decode(), "submissionID": "1"}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded" if source == "jotform" else "application/json"}
    request = sign(
        source, HttpRequest("POST", f"/webhooks/{source}", body, headers), LOCAL_SECRET["webhook_secrets"][source]
    )
    _answered(sandbox, http_api_event(request), signed=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
event_keys = st.sampled_from(
    ["version", "type", "routeArn", "methodArn", "httpMethod", "path", "rawPath", "requestContext", "headers", "body"]
)


@FEW
@given(
    request=st.builds(
        HttpRequest,
        st.sampled_from(["POST", "GET"]),
        st.sampled_from(["/webhooks/zapier", "/webhooks/jotform", "/webhooks/x", "/"]),
        st.binary(max_size=40),
        st.dictionaries(header_text.filter(bool), header_values, max_size=3),
    ),
    kind=st.sampled_from(["http api", "rest request", "rest token"]),
    extra=st.dictionaries(event_keys | st.text(max_size=10), json_values, max_size=3),
)
def test_authorizer_events_are_unsupported(
    sandbox: Sandbox, request: HttpRequest, kind: str, extra: dict[str, Any]
) -> None:
    signed = sign("zapier", request, LOCAL_SECRET["webhook_secrets"]["zapier"])
    event = {
        "http api": http_api_authorizer_event,
        "rest request": rest_authorizer_event,
        "rest token": lambda r: rest_authorizer_event(r, "TOKEN"),
    }[kind](signed)
    event |= {k: v for k, v in extra.items() if k not in ("type", "routeArn", "methodArn")}
    answer = _answered(sandbox, event, signed=False)
    assert (answer["status"], answer["error"]["code"]) == (400, "unsupported_event")


@FEW
@given(event=json_values | st.dictionaries(event_keys, json_values, max_size=6))
def test_other_events_get_a_4xx(sandbox: Sandbox, event: Any) -> None:
    _answered(sandbox, event, signed=False)


message_fields = st.fixed_dictionaries(
    {},
    optional={
        "source": st.sampled_from([*senders.SOURCES, "attacker", "z" * 2000]) | json_values,
        "delivery_id": st.sampled_from(["d-1", "+905551234567", "x" * 10_000]) | header_values | json_values,
        "phone": st.sampled_from(["+905551234567", "05551234567", "+90555", "+90 555 123 45 67"]) | json_values,
        "received_at": st.sampled_from([1795000000.0, "nan", "inf", float("nan"), float("inf"), -1e308, True])
        | json_values,
    },
)
valid_messages = st.fixed_dictionaries(
    {
        "source": st.sampled_from(senders.SOURCES),
        "delivery_id": st.uuids().map(str),
        "phone": st.just("+905551234567"),
        "received_at": st.floats(1.7e9, 1.8e9),
    }
)
messages = st.one_of(
    st.tuples(valid_messages, message_fields).map(lambda pair: json.dumps(pair[0] | pair[1])),
    message_fields.map(json.dumps),
    nested_json.map(bytes.decode),
    st.text(max_size=100),
    json_values.map(json.dumps),
)


@FEW
@given(body=messages)
def test_forwarder_messages_are_drained_or_dropped_never_a_crash(sandbox: Sandbox, body: str) -> None:
    from owner_webhook.forwarder import lambda_handler as forwarder
    from owner_webhook.retry_queue import QueuedDelivery

    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:retry",
        "awsRegion": "eu-central-1",
    }
    before = len(sandbox.gateway.received)
    started = time.perf_counter()
    response = forwarder({"Records": [record]}, LocalContext(timeout_seconds=60))
    assert time.perf_counter() - started < SECONDS
    try:
        queued = QueuedDelivery.from_json(body)
    except Exception:
        queued = None
    forwarded = len(sandbox.gateway.received) > before
    if forwarded:  # only a message it could have written (else dropped; or replayed, a second time)
        assert queued is not None
    assert response == {"batchItemFailures": []}  # never retried: forwarded, replayed or dropped
    hypothesis.event("forwarded" if forwarded else "dropped")
