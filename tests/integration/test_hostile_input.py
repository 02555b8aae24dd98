"""What an adversarial review sent (issue 12): nothing a request carries makes a 5xx, and none of it is
forwarded. Each test is one finding, reproduced through the handler against the local stack.

The promise: docs/security.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sandbox import senders
from sandbox.aws import LOCAL_SECRET, STANDARD_WEBHOOKS_SECRET
from sandbox.events import (
    HttpRequest,
    http_api_authorizer_event,
    http_api_event,
    rest_api_event,
    rest_authorizer_event,
)
from sandbox.local_secrets import webhook_secret
from sandbox.senders import sign
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event

# Digits that are not a timestamp: past int()'s 4,300-digit limit, too large for a float, or digits to
# str.isdigit() only ("²", Arabic-Indic).
NOT_TIMESTAMPS = ["9" * 400, "9" * 5000, "²", "١٧٣٥٦٨٩٦٠٠", "1e3", " "]


def _with(request: HttpRequest, **headers: str) -> HttpRequest:
    return HttpRequest(request.method, request.path, request.body, {**request.headers, **headers}, request.query)


@pytest.mark.parametrize("timestamp", NOT_TIMESTAMPS)
def test_a_timestamp_of_digits_that_are_not_a_number_is_401(sandbox: Sandbox, timestamp: str) -> None:
    webflow = _with(senders.request("webflow"), **{"x-webflow-timestamp": timestamp})
    assert invoke_event(http_api_event(webflow)).code == "unauthenticated"
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {"generic": STANDARD_WEBHOOKS_SECRET}})
    generic = _with(senders.request("generic", secret=STANDARD_WEBHOOKS_SECRET), **{"webhook-timestamp": timestamp})
    assert invoke_event(http_api_event(generic)).code == "unauthenticated"
    assert sandbox.gateway.received == []


@pytest.mark.parametrize(
    ("source", "header", "value"),
    [
        ("zapier", "authorization", "Bearer \ud800"),
        ("zapier", "x-webhook-token", "\udfff"),
        ("generic", "authorization", "Bearer \ud800"),
        ("typeform", "typeform-signature", "sha256=\ud800"),
        ("tally", "tally-signature", "\ud800"),
        ("webflow", "x-webflow-signature", "\ud800"),
        ("webflow", "x-webflow-timestamp", "\ud800"),
    ],
)
def test_a_lone_surrogate_in_a_header_is_401(sandbox: Sandbox, source: str, header: str, value: str) -> None:
    # HTTP cannot carry one; a hand-made invocation can (a "\ud800" escape in the event's JSON).
    request = _with(senders.request(source), **{header: value})
    if header == "x-webhook-token":  # the header Zapier reads when there is no Bearer token
        request = HttpRequest("POST", request.path, request.body, {**request.headers, "authorization": ""})
    assert invoke_event(http_api_event(request)).code == "unauthenticated"
    assert sandbox.gateway.received == []


def test_a_lone_surrogate_in_standard_webhooks_headers_is_401(sandbox: Sandbox) -> None:
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {"generic": STANDARD_WEBHOOKS_SECRET}})
    signed = senders.request("generic", secret=STANDARD_WEBHOOKS_SECRET)
    for header, value in [("webhook-id", "msg_\ud800"), ("webhook-signature", "v1,\ud800")]:
        assert invoke_event(http_api_event(_with(signed, **{header: value}))).code == "unauthenticated"
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("token", ["\ud800", webhook_secret("jotform") + "\udc80"])
def test_a_lone_surrogate_in_the_query_is_401(sandbox: Sandbox, token: str) -> None:
    event = http_api_event(senders.request("jotform"))
    event["queryStringParameters"] = {"token": token}
    assert invoke_event(event).code == "unauthenticated"
    event = rest_api_event(senders.request("jotform"))
    event["queryStringParameters"] = {"token": token}
    assert invoke_event(event).code == "unauthenticated"
    assert sandbox.gateway.received == []


def test_a_lone_surrogate_in_a_signed_id_is_logged_hashed(sandbox: Sandbox, logs: Any) -> None:
    request = _with(senders.request("zapier"), **{"idempotency-key": "signup-\ud800"})
    assert invoke_event(http_api_event(request)).code == "owner_created"
    [line] = logs()
    assert line["delivery_id"].startswith("hmac:")


BOUNDARY = "b0undary"
RAW = json.dumps({"q4_phoneNumber": {"full": "0555 123 45 67"}}).encode()
LIMIT = 256 * 1024


def _part(headers: str, value: bytes = RAW) -> bytes:
    return f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + value + b"\r\n"


def _form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


RAW_REQUEST = 'Content-Disposition: form-data; name="rawRequest"'
# Each within the 256 KiB limit, each answered 400 malformed_body in milliseconds. Before: 7 s (quadratic
# in the mail parser), RecursionError, UnicodeError, 1 s.
HOSTILE_FORMS = {
    "16,000 encoded words": _form(_part(RAW_REQUEST + '; x="' + " ".join(["=?utf-8?q?a?="] * 16_000) + '"')),
    "40,000 (": _form(_part(RAW_REQUEST + " " + "(" * 40_000)),
    "charset=undefined": _form(_part(RAW_REQUEST + "\r\nContent-Type: text/plain; charset=undefined")),
    "charset=rot13": _form(_part(RAW_REQUEST + "\r\nContent-Type: text/plain; charset=rot13")),
    "rawRequest nested 100,000 deep": _form(_part(RAW_REQUEST, b"[" * 100_000)),
    "rawRequest objects nested 40,000 deep": _form(_part(RAW_REQUEST, b'{"a":' * 40_000)),
    "4,000 parts": _form(*[_part('Content-Disposition: form-data; name="f"', b"") for _ in range(4000)]),
    "30,000 headers": _form(_part("\r\n".join(["X: y"] * 30_000))),
    "200,000 ; in quotes": _form(_part('Content-Disposition: form-data; name="' + ";" * 200_000 + '"')),
    "a header of 1,100 bytes": _form(_part(RAW_REQUEST + "; x=" + "a" * 1100)),
    "no closing boundary": _part(RAW_REQUEST),
}


@pytest.mark.parametrize("body", HOSTILE_FORMS.values(), ids=HOSTILE_FORMS.keys())
def test_a_hostile_multipart_form_is_400_in_bounded_time(sandbox: Sandbox, body: bytes) -> None:
    assert len(body) <= LIMIT
    content_type = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    request = sign("jotform", HttpRequest("POST", "/webhooks/jotform", body, content_type), webhook_secret("jotform"))
    started = time.perf_counter()
    answer = invoke_event(http_api_event(request))
    assert time.perf_counter() - started < 1.0  # each takes milliseconds; the bound leaves room for a busy machine
    assert (answer.status, answer.code) == (400, "malformed_body")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=" + "x" * 300,
        "multipart/form-data",
        "multipart/form-data; boundary=ğ",
        "multipart/form-data; boundary=\ud800",
        "multipart/form-data; boundary=b0undary" + ";" * 100_000,
    ],
)
def test_a_hostile_multipart_content_type_is_400(sandbox: Sandbox, content_type: str) -> None:
    request = sign(
        "jotform", HttpRequest("POST", "/webhooks/jotform", _form(_part(RAW_REQUEST)), {}), webhook_secret("jotform")
    )
    event = http_api_event(request)
    event["headers"]["content-type"] = content_type
    answer = invoke_event(event)
    assert (answer.status, answer.code) == (400, "malformed_body")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("charset", [None, "utf-8", "UTF-8", "us-ascii", "iso-8859-1"])
def test_a_well_formed_multipart_form_still_creates_the_owner(sandbox: Sandbox, charset: str | None) -> None:
    headers = RAW_REQUEST + (f"\r\nContent-Type: text/plain; charset={charset}" if charset else "")
    body = _form(
        _part('Content-Disposition: form-data; name="submissionID"', b"6084250982513018472"),
        _part('Content-Disposition: form-data; name="upload"; filename="a.txt"', b"ignored"),
        _part(headers),
    )
    content_type = {"content-type": f'multipart/form-data; boundary="{BOUNDARY}"'}
    request = sign("jotform", HttpRequest("POST", "/webhooks/jotform", body, content_type), webhook_secret("jotform"))
    assert invoke_event(http_api_event(request)).code == "owner_created"
    assert sandbox.gateway.owners == ["+905551234567"]


AUTHORIZER_EVENTS = {
    "http api authorizer": lambda r: http_api_authorizer_event(r),
    "rest request authorizer": lambda r: rest_authorizer_event(r),
    "rest token authorizer": lambda r: rest_authorizer_event(r, "TOKEN"),
}


@pytest.mark.parametrize("kind", sorted(AUTHORIZER_EVENTS))
@pytest.mark.parametrize("path", ["/webhooks/zapier", "/webhooks/nope", "/owner"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_authorizer_event_is_400_unsupported_event(sandbox: Sandbox, kind: str, path: str, method: str) -> None:
    request = sign("zapier", HttpRequest(method, path, b"", {}), LOCAL_SECRET["webhook_secrets"]["zapier"])
    answer = invoke_event(AUTHORIZER_EVENTS[kind](request))
    assert (answer.status, answer.code) == (400, "unsupported_event")
    assert sandbox.gateway.received == []


OTHER_EVENTS: list[Any] = [
    None,
    5,
    "POST /webhooks/zapier",
    ["Records"],
    {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
    {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
    {"requestContext": {"elb": {"targetGroupArn": "arn"}}, "httpMethod": "POST", "path": "/webhooks/zapier"},
    {
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c", "requestId": "r"},
        "isBase64Encoded": False,
    },
]


@pytest.mark.parametrize("event", OTHER_EVENTS, ids=lambda e: json.dumps(e)[:40])
def test_other_events_are_400_unsupported_event(sandbox: Sandbox, event: Any) -> None:
    answer: Answer = invoke_event(event)
    assert (answer.status, answer.code) == (400, "unsupported_event")
