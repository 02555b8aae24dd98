"""Every row of the answer table (docs/answers.md) for zapier and generic, against real stand-ins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.gateway import Fault
from sandbox.local_secrets import webhook_secret
from sandbox.stack import Sandbox
from tests.integration.conftest import API_KEY, webhook

AUTOMATION = ["zapier", "generic"]


@pytest.mark.parametrize("source", AUTOMATION)
def test_success_forwards_the_e164_phone_with_the_bearer_key(sandbox: Sandbox, source: str) -> None:
    answer = webhook(source, {"name": "Ayşe", "phone": "0555 123 45 67"})
    assert (answer.status, answer.body) == (200, {"success": True})
    [received] = sandbox.gateway.received
    assert received.path == "/owner"
    assert received.authorization == f"Bearer {API_KEY}"
    assert json.loads(received.body) == {"phone": "+905551234567"}
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("source", AUTOMATION)
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "Ayşe", "email": "a@example.com"}, "missing_phone"),
        ({"phone": ""}, "missing_phone"),
        ({"phone": "+90 555 123"}, "invalid_phone"),
        ({"phone": "+90 555 123 45 67; DROP TABLE owners"}, "invalid_phone"),
    ],
)
def test_a_phone_that_cannot_work_is_422_and_nothing_is_sent(
    sandbox: Sandbox, source: str, fields: dict[str, str], code: str
) -> None:
    answer = webhook(source, fields)
    assert (answer.status, answer.code) == (422, code)
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", AUTOMATION)
def test_a_phone_the_gateway_refuses_is_422_rejected_phone(sandbox: Sandbox, source: str) -> None:
    sandbox.gateway.rejected_phones.add("+905551234567")
    answer = webhook(source)
    assert (answer.status, answer.code) == (422, "rejected_phone")
    assert [r.status for r in sandbox.gateway.received] == [400]


@pytest.mark.parametrize("source", AUTOMATION)
@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_a_missing_or_wrong_token_is_401(sandbox: Sandbox, source: str, token: str | None) -> None:
    answer = webhook(source, token=token)
    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", AUTOMATION)
def test_a_source_without_a_secret_accepts_nothing(sandbox: Sandbox, source: str) -> None:
    sandbox.aws.put_secret({"api_key": API_KEY, "webhook_secrets": {}})
    answer = webhook(source, token="anything")
    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert sandbox.gateway.received == []


def test_a_plain_string_secret_is_the_api_key_and_no_source_is_open(sandbox: Sandbox) -> None:
    sandbox.aws.put_secret(API_KEY)
    assert webhook("zapier", token="").status == 401
    assert sandbox.gateway.received == []


def test_zapier_also_takes_the_x_webhook_token_header(sandbox: Sandbox) -> None:
    answer = webhook("zapier", token=None, headers={"X-Webhook-Token": webhook_secret("zapier")})
    assert answer.status == 200
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("source", AUTOMATION)
@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b'{"phone": ', 400, "malformed_body"),
        ("application/json", b'["+905551234567"]', 400, "malformed_body"),
        ("application/xml", b"<phone>+905551234567</phone>", 415, "unsupported_media_type"),
        ("multipart/form-data; boundary=x", b"--x--", 415, "unsupported_media_type"),
        ("application/json", b'{"phone": "' + b"5" * 300_000 + b'"}', 413, "payload_too_large"),
    ],
)
def test_unreadable_requests(
    sandbox: Sandbox, source: str, content_type: str, body: bytes, status: int, code: str
) -> None:
    answer = webhook(source, body=body, headers={"Content-Type": content_type})
    assert (answer.status, answer.code) == (status, code)
    assert sandbox.gateway.received == []


def test_the_body_limit_is_a_setting(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "64")
    assert webhook("zapier", {"phone": "0555 123 45 67", "note": "x" * 64}).code == "payload_too_large"
    assert webhook("zapier", {"phone": "0555 123 45 67"}).status == 200


def test_an_unknown_source_is_404(sandbox: Sandbox) -> None:
    answer = webhook("myspace", token="x")
    assert (answer.status, answer.code) == (404, "unknown_source")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", AUTOMATION)
@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        (Fault(status=429, retry_after=7), "upstream_unavailable", "7"),
        (Fault(status=503, retry_after=11), "upstream_unavailable", "11"),
        (Fault(status=500), "upstream_unavailable", "60"),
        (Fault(status=502), "upstream_unavailable", "60"),
        (Fault(reset=True), "upstream_ambiguous", "60"),
        (Fault(create_first=True), "upstream_ambiguous", "60"),
        (Fault(delay=1.0), "upstream_ambiguous", "60"),
    ],
)
def test_gateway_failures_are_503_with_retry_after(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, source: str, fault: Fault, code: str, retry_after: str
) -> None:
    monkeypatch.setenv("GATEWAY_READ_TIMEOUT", "0.3")
    sandbox.gateway.inject(fault)
    answer = webhook(source)
    assert (answer.status, answer.code) == (503, code)
    assert answer.headers["Retry-After"] == retry_after
    sandbox.gateway.settle()
    assert len(sandbox.gateway.received) == 1  # a POST that may have arrived is never repeated


@pytest.mark.parametrize("source", AUTOMATION)
def test_an_unreachable_gateway_is_503(monkeypatch: pytest.MonkeyPatch, source: str, closed_port: int) -> None:
    monkeypatch.setenv("GATEWAY_BASE_URL", f"http://127.0.0.1:{closed_port}")
    answer = webhook(source)
    assert (answer.status, answer.code) == (503, "upstream_unavailable")
    assert "Retry-After" in answer.headers


@pytest.mark.parametrize("source", AUTOMATION)
def test_a_rotated_key_is_fetched_fresh_and_the_delivery_succeeds(sandbox: Sandbox, source: str) -> None:
    assert webhook(source, {"phone": "05551234567"}).status == 200  # warm: the old key is cached
    sandbox.aws.put_secret({**_secret(), "api_key": "rotated-key"})
    sandbox.gateway.accepted_keys = {"rotated-key"}
    answer = webhook(source, {"phone": "05551234568"})
    assert answer.status == 200
    assert [r.authorization for r in sandbox.gateway.received[1:]] == [f"Bearer {API_KEY}", "Bearer rotated-key"]
    assert sandbox.gateway.owners == ["+905551234567", "+905551234568"]


@pytest.mark.parametrize(("denied", "status"), [(False, 401), (True, 403)])
def test_a_key_the_gateway_refuses_even_fresh_is_503_upstream_auth(sandbox: Sandbox, denied: bool, status: int) -> None:
    sandbox.gateway.accepted_keys = {"someone-elses-key"}
    if denied:
        sandbox.gateway.denied_keys = {API_KEY}
    reads = sandbox.aws.secret_reads()
    answer = webhook("generic")
    assert (answer.status, answer.code) == (503, "upstream_auth")
    assert [r.status for r in sandbox.gateway.received] == [status]  # the fresh key was the same: no resend
    # The secret and the phone key (cold), then one forced fresh read of the secret.
    assert sandbox.aws.secret_reads() - reads == 3


def test_other_methods_are_405_and_other_paths_404(sandbox: Sandbox) -> None:
    from sandbox.events import HttpRequest, http_api_event
    from tests.integration.conftest import invoke_event

    got = invoke_event(http_api_event(HttpRequest("GET", "/webhooks/zapier")))
    assert (got.status, got.code) == (405, "method_not_allowed")
    got = invoke_event(http_api_event(HttpRequest("POST", "/owner", b"{}", {"content-type": "application/json"})))
    assert (got.status, got.code) == (404, "not_found")
    assert sandbox.gateway.received == []


def _secret() -> dict[str, object]:
    from sandbox.aws import LOCAL_SECRET

    return dict(LOCAL_SECRET)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"version": "2.0"},
        {"httpMethod": "POST"},
        {"version": "2.0", "requestContext": {}},
        {"Records": []},
        {"httpMethod": 5, "path": "/webhooks/zapier", "requestContext": {"requestId": "r"}},
        {
            "version": "2.0",
            "rawPath": ["/webhooks/zapier"],
            "requestContext": {"requestId": "r", "http": {"method": "POST"}},
        },
        {"httpMethod": "POST", "path": "/webhooks/zapier", "requestContext": {"requestId": "r"}, "body": {"a": 1}},
    ],
)
def test_an_event_that_is_not_a_request_is_400(sandbox: Sandbox, event: dict[str, object]) -> None:
    from owner_webhook.handler import lambda_handler
    from sandbox.events import LocalContext

    result = lambda_handler(event, LocalContext())
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "unsupported_event"
    assert sandbox.gateway.received == []


def test_a_bug_is_answered_503_and_logged_by_type_and_place_only(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Any
) -> None:
    from owner_webhook.sources.recipe import RecipeSource

    def broken(self: RecipeSource, payload: object) -> str:
        raise RuntimeError("bug while reading +905551234567")

    monkeypatch.setattr(RecipeSource, "phones", broken)
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, "internal_error")
    assert "Retry-After" in answer.headers
    [line] = logs()
    assert line["error_type"] == "RuntimeError"
    assert line["error_place"].startswith("owner_webhook/delivery.py:")  # the package's frame that called it
    assert "905551234567" not in json.dumps(line) + json.dumps(answer.body)
    assert sandbox.gateway.received == []


def test_a_bug_inside_the_standard_library_is_placed_in_the_package(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Any
) -> None:
    import functools
    from urllib.parse import parse_qsl

    from owner_webhook import request

    # A bug that surfaces inside a library call (here the form parser, given an argument it cannot use):
    # the log names this package's line that made the call, not a file of the standard library.
    monkeypatch.setattr(request, "parse_qsl", functools.partial(parse_qsl, max_num_fields="many"))
    assert webhook("zapier", form=True).code == "internal_error"
    [line] = logs()
    assert line["error_type"] == "TypeError"
    assert line["error_place"].startswith("owner_webhook/request.py:")


def test_an_answer_repeats_nothing_the_sender_sent() -> None:
    from sandbox.events import HttpRequest, http_api_event
    from tests.integration.conftest import invoke_event

    unknown = invoke_event(http_api_event(HttpRequest("POST", "/webhooks/+905551234567", b"{}", {})))
    assert unknown.code == "unknown_source" and "905551234567" not in json.dumps(unknown.body)
    odd_type = webhook("zapier", headers={"Content-Type": "text/x-905551234567"})
    assert odd_type.code == "unsupported_media_type" and "905551234567" not in json.dumps(odd_type.body)
