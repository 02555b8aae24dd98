"""API Gateway events from HTTP requests and back, as API Gateway builds them (HTTP API payload 2.0)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, APIGatewayProxyEventV2

ROUTE_PREFIX = "/webhooks/"
# HTTP API and Function URLs pass these as text; everything else (forms, multipart, no type) as base64.
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str = ""


def http_api_event(request: HttpRequest, source_ip: str = "127.0.0.1") -> dict[str, Any]:
    """The HTTP API payload 2.0 event for a request on the `POST /webhooks/{source}` route."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    as_text = media_type.startswith("text/") or media_type in _TEXT_TYPES
    route = request.path.startswith(ROUTE_PREFIX) and "/" not in request.path[len(ROUTE_PREFIX) :]
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /webhooks/{source}" if route else "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "POST /webhooks/{source}" if route else "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not as_text,
    }
    if request.query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    if route:
        event["pathParameters"] = {"source": request.path[len(ROUTE_PREFIX) :]}
    if request.body:
        event["body"] = request.body.decode("utf-8", "replace") if as_text else base64.b64encode(request.body).decode()
    return event


def request_of(event: Mapping[str, Any]) -> HttpRequest:
    """The HTTP request an event file describes, in any of the three shapes, to send it for real."""
    proxy = APIGatewayProxyEventV2(dict(event)) if event.get("version") == "2.0" else APIGatewayProxyEvent(dict(event))
    text = proxy.body or ""
    body = base64.b64decode(text) if proxy.is_base64_encoded else text.encode()
    if isinstance(proxy, APIGatewayProxyEventV2):
        return HttpRequest(
            proxy.request_context.http.method, proxy.raw_path, body, dict(proxy.headers), proxy.raw_query_string
        )
    query = urlencode(proxy.query_string_parameters or {})
    return HttpRequest(proxy.http_method, proxy.path, body, dict(proxy.headers), query)


@dataclass
class LocalContext:
    """The parts of the Lambda context the handler and Powertools read."""

    timeout_seconds: float = 10.0
    function_name: str = "owner-webhook-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:owner-webhook-local"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    log_group_name: str = "/aws/lambda/owner-webhook-local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def rest_api_event(request: HttpRequest, stage: str = "prod") -> dict[str, Any]:
    """The REST API proxy-integration event (payload 1.0): header case as sent, body base64 only for
    binary media types (none are configured, so never)."""
    query = dict(parse_qsl(request.query, keep_blank_values=True)) or None
    headers = dict(request.headers)
    route = request.path.startswith(ROUTE_PREFIX)
    return {
        "resource": "/webhooks/{source}" if route else "/{proxy+}",
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"source": request.path[len(ROUTE_PREFIX) :]} if route else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/webhooks/{source}",
            "httpMethod": request.method,
            "path": f"/{stage}{request.path}",
            "stage": stage,
            "requestId": uuid.uuid4().hex,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
            "accountId": "123456789012",
            "apiId": "local",
        },
        "body": request.body.decode("utf-8", "replace") if request.body else None,
        "isBase64Encoded": False,
    }


def function_url_event(request: HttpRequest) -> dict[str, Any]:
    """A Lambda Function URL event: the 2.0 shape with the `$default` route and no path parameters."""
    event = http_api_event(request)
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["requestContext"]["domainName"] = "local.lambda-url.eu-central-1.on.aws"
    event.pop("pathParameters", None)
    return event


def http_api_authorizer_event(request: HttpRequest) -> dict[str, Any]:
    """What an HTTP API Lambda authorizer (payload 2.0, type REQUEST) receives for this request: the
    request's method, path, headers and request id, with `type` and `routeArn`, and no body."""
    event = http_api_event(request)
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    route = f"{event['requestContext']['stage']}/{request.method}{request.path}"
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:eu-central-1:123456789012:local/{route}",
        "identitySource": [event["headers"].get("authorization", "")],
        **event,
    }


def rest_authorizer_event(request: HttpRequest, kind: str = "REQUEST") -> dict[str, Any]:
    """What a REST API Lambda authorizer receives: REQUEST (the request's method, path, headers, query and
    request id, with `type` and `methodArn`) or TOKEN (the token and `methodArn` only)."""
    method_arn = f"arn:aws:execute-api:eu-central-1:123456789012:local/prod/{request.method}{request.path}"
    if kind == "TOKEN":
        token = {k.lower(): v for k, v in request.headers.items()}.get("authorization", "")
        return {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
    event = rest_api_event(request)
    for key in ("body", "isBase64Encoded", "multiValueHeaders", "multiValueQueryStringParameters"):
        event.pop(key, None)
    return {"type": "REQUEST", "methodArn": method_arn, **event}
