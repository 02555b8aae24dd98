"""A webhook request as the sources see it: raw body bytes, headers, query; and its fields."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from owner_webhook.errors import (
    MalformedBodyError,
    PayloadTooLargeError,
    UnsupportedEventError,
    UnsupportedMediaTypeError,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class WebhookRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]

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
        return cls(body=body, headers=headers, query=query)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def body_digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


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
        raise UnsupportedMediaTypeError(f"content type {media_type!r} is not accepted here: send {' or '.join(accept)}")
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


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    # Imported here: 7 ms of cold start that only Jotform requests need.
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import HTTP

    # The standard library's MIME parser (Python 3.13 has no cgi module): the body with its
    # Content-Type header in front is a MIME message whose parts are the form fields.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        raise MalformedBodyError("the body is not valid multipart/form-data")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # unnamed parts and file uploads carry no answer this function needs
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            fields.setdefault(name, payload.decode(part.get_content_charset() or "utf-8"))
        except (UnicodeDecodeError, LookupError):
            raise MalformedBodyError(f"the form field {name[:40]!r} is not valid text") from None
    return fields
