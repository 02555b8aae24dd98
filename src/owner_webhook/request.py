"""The invocation's event, the one place it is read: its route (method, path, request id) for the handler,
and the webhook request as the sources see it (raw body bytes, headers, query, URL), and its fields.

The three event shapes (HTTP API 2.0, Function URL, REST API 1.0) are read field by field. Powertools'
resolver and event data classes are not used for that: for one route and a few fields they import every
resolver and all 40 event types (their cost is in docs/performance.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from owner_webhook.errors import (
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedEventError,
    UnsupportedMediaTypeError,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
DRY_RUN_VALUES = ("1", "true")  # ?dry_run=1 or ?dry_run=true


def method_and_path(event: Mapping[str, Any]) -> tuple[str, str, str]:
    """The request's method, path and API Gateway's request id (the log's correlation id).

    HTTP API 2.0 and Function URL events carry them in requestContext.http and rawPath, REST API 1.0
    events in httpMethod and path. Raises UnsupportedEventError.
    """
    if not isinstance(event, Mapping):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event")
    if "type" in event or "routeArn" in event or "methodArn" in event:
        # An authorizer's event (HTTP API or REST, TOKEN or REQUEST) has a method, a path and a request
        # id too, but it asks whether to let a request in: it is not the request.
        raise UnsupportedEventError("expected a request event, not an authorizer's")
    try:
        if event.get("version") == "2.0":
            method, path = event["requestContext"]["http"]["method"], event["rawPath"]
        else:
            method, path = event["httpMethod"], event["path"]
        request_id = event["requestContext"]["requestId"]
    except (KeyError, TypeError, AttributeError):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event") from None
    if not isinstance(method, str) or not isinstance(path, str) or not isinstance(request_id, str):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event")
    return method.upper(), path, request_id


def is_dry_run(event: object) -> bool:
    """Whether the request asks for a dry run (`?dry_run=1`), read from the event alone, so that it is known
    whatever fails after (a dry run carries no signup: nothing is lost if it fails)."""
    query = event.get("queryStringParameters") if isinstance(event, Mapping) else None
    return isinstance(query, Mapping) and str(query.get("dry_run", "")).lower() in DRY_RUN_VALUES


class WebhookRequest(NamedTuple):
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    # https://<Host><path>?<query> as API Gateway received it, for a signature that covers the URL.
    url: str = ""

    @classmethod
    def from_event(cls, event: Mapping[str, Any], max_body_bytes: int) -> WebhookRequest:
        """Decode the body of a request event (any of the three shapes: they agree on these fields).

        Raises PayloadTooLargeError, MalformedBodyError or UnsupportedEventError.
        """
        text = event.get("body") or ""
        if not isinstance(text, str):
            raise UnsupportedEventError("the event's body must be a string")
        # Base64 is 4/3 of the bytes it carries: refuse an oversized body before decoding it.
        if len(text) > max_body_bytes * 4 // 3 + 4:
            raise PayloadTooLargeError(f"the body is larger than {max_body_bytes} bytes")
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedBodyError("the body is marked base64 but does not decode") from None
        else:
            body = text.encode("utf-8", "surrogatepass")
        if len(body) > max_body_bytes:
            raise PayloadTooLargeError(f"the body is larger than {max_body_bytes} bytes")
        headers = {str(k).lower(): str(v) for k, v in _mapping(event, "headers").items()}
        query = {str(k): str(v) for k, v in _mapping(event, "queryStringParameters").items()}
        return cls(body=body, headers=headers, query=query, url=_url(event, headers, query))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def body_digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _url(event: Mapping[str, Any], headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The URL the request was sent to, as far as the event tells: the Host header (or the API's domain), the
    path with the stage where the API has one (REST APIs: requestContext.path), and the raw query."""
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    host = headers.get("host") or context.get("domainName") or ""
    path = context.get("path") if event.get("version") != "2.0" else event.get("rawPath")
    version2 = event.get("version") == "2.0"
    raw_query = event.get("rawQueryString") if version2 else urlencode(query, errors="surrogatepass")
    if not isinstance(host, str) or not isinstance(path, str) or not isinstance(raw_query, str):
        return ""
    return f"https://{host}{path}" + (f"?{raw_query}" if raw_query else "")


def _mapping(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key) or {}
    if not isinstance(value, Mapping):
        raise UnsupportedEventError(f"the event's {key} must be an object")
    return value


def read_fields(request: WebhookRequest, accept: Collection[str] = (JSON, FORM)) -> dict[str, Any]:
    """The body as an object, from the accepted media types (JSON, form, multipart form).

    Raises MalformedBodyError or UnsupportedMediaTypeError.
    """
    media_type = request.media_type
    if not media_type:
        # Some tools (Apps Script without contentType, curl -d) send no type: take what the body is.
        media_type = JSON if request.body.lstrip().startswith(b"{") else FORM
    if media_type.endswith("+json"):
        media_type = JSON
    if media_type not in accept:
        raise UnsupportedMediaTypeError(f"this content type is not accepted here: send {' or '.join(accept)}")
    if media_type == JSON:
        return _json_object(request.body)
    if media_type == FORM:
        return _form(request.body)
    return _multipart(request.header("content-type") or "", request.body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedBodyError("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedBodyError("the JSON body must be an object")
    return document


def _form(body: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body.strip()))
    except (UnicodeDecodeError, ValueError):
        raise MalformedBodyError("the body is not a valid form (application/x-www-form-urlencoded)") from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


# Jotform sends some twenty parts of one or two short headers each. The limits keep a hostile body's
# work bounded and small (the parser's own work is linear in the body).
MAX_PARTS = 128
MAX_PART_HEADERS = 8
MAX_HEADER_BYTES = 1024
MAX_HEADER_PARAMETERS = 16
# What a form's text can be in: the parts' charset is the sender's to choose, the codec not.
_CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii", "iso-8859-1": "latin-1"}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    # python-multipart, Starlette's parser: made for HTTP forms, streaming, linear. Imported here: only
    # Jotform requests need it.
    from python_multipart.multipart import MultipartParser

    # Its warnings (one per malformed body, plain text on the root logger) would add a second log line.
    logging.getLogger("python_multipart.multipart").disabled = True
    try:
        boundary = _options(content_type, "Content-Type")[1].get(b"boundary")
        if not boundary:
            raise MalformedBodyError("multipart/form-data without a boundary")
        form = _Form()
        parser = MultipartParser(
            boundary, form.callbacks(), max_header_count=MAX_PART_HEADERS, max_header_size=MAX_HEADER_BYTES
        )
        parser.write(body)
    except ValueError:  # the parser's errors, and a header that is not Latin-1 text
        raise MalformedBodyError("the body is not valid multipart/form-data") from None
    if not form.ended:
        raise MalformedBodyError("the multipart body ends before its closing boundary")
    return form.fields


class _Form:
    """The text fields of a multipart/form-data body, collected from the parser's callbacks."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.ended = False
        self._parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._name = self._value = b""
        self._data: list[bytes] = []

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedBodyError(f"a form of more than {MAX_PARTS} parts")
        self._headers, self._data = {}, []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name = self._value = b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data.append(data[start:end])

    def _part_end(self) -> None:
        disposition, params = _options(self._headers.get(b"content-disposition", b""), "Content-Disposition")
        if disposition != b"form-data" or b"name" not in params or b"filename" in params:
            return  # unnamed parts and file uploads carry no answer this function needs
        charset = _options(self._headers.get(b"content-type", b""), "Content-Type")[1].get(b"charset")
        codec = _CHARSETS.get((charset or b"utf-8").decode("latin-1").lower())
        try:
            if codec is None:
                raise UnicodeError("a charset other than UTF-8, ASCII or Latin-1")
            name = params[b"name"].decode("utf-8")
            self.fields.setdefault(name, b"".join(self._data).decode(codec))
        except UnicodeError:
            raise MalformedBodyError("a form field is not valid text") from None

    def _end(self) -> None:
        self.ended = True


def _options(value: str | bytes, header: str) -> tuple[bytes, dict[bytes, bytes]]:
    """A header's value and parameters; raises MalformedBodyError or (not Latin-1 text) ValueError."""
    from python_multipart.multipart import parse_options_header

    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if text.count(";") > MAX_HEADER_PARAMETERS:  # the parser's work grows with them
        raise MalformedBodyError(f"a {header} of more than {MAX_HEADER_PARAMETERS} parameters")
    return parse_options_header(text)
