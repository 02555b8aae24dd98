"""Bodies as API Gateway delivers them: base64 or text, JSON or form, within the size limit."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from owner_webhook.errors import (
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedEventError,
    UnsupportedMediaTypeError,
)
from owner_webhook.request import WebhookRequest, read_fields


def _v2(body: bytes, content_type: str | None, *, b64: bool, headers: dict[str, str] | None = None) -> Any:
    all_headers = {"content-type": content_type} if content_type else {}
    all_headers.update(headers or {})
    text = base64.b64encode(body).decode() if b64 else body.decode()
    return {"version": "2.0", "headers": all_headers, "body": text, "isBase64Encoded": b64}


def _read(body: bytes, content_type: str | None, *, b64: bool = False) -> dict[str, Any]:
    return read_fields(WebhookRequest.from_event(_v2(body, content_type, b64=b64), 1024))


@pytest.mark.parametrize(
    ("body", "content_type", "b64", "fields"),
    [
        (b'{"phone": "+905551234567"}', "application/json", False, {"phone": "+905551234567"}),
        (b'{"phone": "+905551234567"}', "application/json; charset=utf-8", True, {"phone": "+905551234567"}),
        (b'{"a": 1}', "application/vnd.api+json", True, {"a": 1}),
        (b"phone=%2B905551234567&name=Ay%C5%9Fe", "application/x-www-form-urlencoded", True,
         {"phone": "+905551234567", "name": "Ayşe"}),
        (b"phone=1&phone=2&empty=", "application/x-www-form-urlencoded", True, {"phone": "1", "empty": ""}),
        (b"", "application/x-www-form-urlencoded", True, {}),
        (b'{"phone": "1"}', None, True, {"phone": "1"}),  # no content type: JSON when it looks like it
        (b"phone=1", None, True, {"phone": "1"}),  # ... else a form (Apps Script's default)
    ],
)  # fmt: skip
def test_fields_from_json_and_forms(body: bytes, content_type: str | None, b64: bool, fields: dict[str, Any]) -> None:
    assert _read(body, content_type, b64=b64) == fields


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"{not json", "application/json", MalformedBodyError),
        (b"[1, 2]", "application/json", MalformedBodyError),
        (b'"text"', "application/json", MalformedBodyError),
        (b"\xff\xfe", "application/x-www-form-urlencoded", MalformedBodyError),
        (b"a=1&&=", "application/x-www-form-urlencoded", MalformedBodyError),
        (b"<xml/>", "application/xml", UnsupportedMediaTypeError),
        (b"phone=1", "text/plain", UnsupportedMediaTypeError),
    ],
)
def test_unreadable_bodies(body: bytes, content_type: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        _read(body, content_type, b64=True)


def test_invalid_base64_is_malformed() -> None:
    event = {"version": "2.0", "headers": {}, "body": "***", "isBase64Encoded": True}
    with pytest.raises(MalformedBodyError):
        WebhookRequest.from_event(event, 1024)


@pytest.mark.parametrize("b64", [True, False])
def test_body_over_the_limit(b64: bool) -> None:
    with pytest.raises(PayloadTooLargeError):
        WebhookRequest.from_event(_v2(b"a" * 1025, "application/json", b64=b64), 1024)
    assert len(WebhookRequest.from_event(_v2(b"a" * 1024, "application/json", b64=b64), 1024).body) == 1024


def test_headers_are_found_whatever_their_case() -> None:
    event = {"httpMethod": "POST", "headers": {"X-Webhook-Token": "t", "Content-Type": "A/B"}}
    request = WebhookRequest.from_event(event, 1024)
    assert request.header("x-webhook-token") == request.header("X-WEBHOOK-TOKEN") == "t"
    assert request.media_type == "a/b"


def test_missing_headers_query_and_body() -> None:
    event = {"httpMethod": "POST", "headers": None, "queryStringParameters": None, "body": None}
    request = WebhookRequest.from_event(event, 1024)
    assert (request.body, dict(request.headers), dict(request.query)) == (b"", {}, {})


@pytest.mark.parametrize(
    "event",
    [{"body": {"phone": "+90555"}}, {"body": 12}, {"headers": ["content-type"]}, {"queryStringParameters": "a=1"}],
)
def test_events_of_the_wrong_shape_are_unsupported(event: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedEventError):
        WebhookRequest.from_event(event, 1024)
