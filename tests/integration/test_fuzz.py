"""Fuzzing the handler: whatever arrives, a JSON answer with `success`, a 2xx or 4xx status while the
gateway is healthy, no exception, and nothing forwarded without valid authentication."""

from __future__ import annotations

import base64
import json
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from owner_webhook.handler import lambda_handler
from sandbox import senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import HttpRequest, LocalContext, function_url_event, http_api_event, rest_api_event
from sandbox.signing import sign
from sandbox.stack import Sandbox

EXAMPLES = 2000
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
phones = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.sampled_from(["0555 123 45 67", "+905551234567", "+44 7911 123456"]),
)


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
    headers |= draw(st.dictionaries(header_text.filter(bool), header_text, max_size=4))
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
    before = len(sandbox.gateway.received)
    result = lambda_handler(event, LocalContext())
    answer = json.loads(result["body"])
    assert isinstance(answer["success"], bool)
    assert 200 <= result["statusCode"] < 500, answer
    forwarded = len(sandbox.gateway.received) > before
    if forwarded:
        assert signed, event
    hypothesis.event(f"answered {result['statusCode']}{' (forwarded)' if forwarded else ''}")
