"""What an adversarial review sent (issue 12): nothing a request carries makes a 5xx, and none of it is
forwarded. Each test is one finding, reproduced through the handler against the local stack."""

from __future__ import annotations

import json
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
from sandbox.signing import sign
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


@pytest.mark.parametrize("token", ["\ud800", "local-jotform-token\udc80"])
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
    assert line["delivery_id"].startswith("sha256:")


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
