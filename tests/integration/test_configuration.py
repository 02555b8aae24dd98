"""A misconfigured function answers 503 with its own code and logs one line naming the problem.

The promise: docs/configuration.md and docs/answers.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from base64 import b64encode
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.aws import LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID, SECRET_ID
from sandbox.local_secrets import webhook_secret
from sandbox.stack import Sandbox
from tests.integration.conftest import webhook

Logs = Callable[[], list[dict[str, Any]]]


def _one_line(logs: Logs, code: str) -> dict[str, Any]:
    [line] = logs()
    assert (line["outcome"], line["status"], line["level"]) == (code, 503, "ERROR")
    return line


def test_api_key_secret_id_unset(monkeypatch: pytest.MonkeyPatch, logs: Logs, sandbox: Sandbox) -> None:
    monkeypatch.delenv("API_KEY_SECRET_ID")
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, "invalid_setting")
    assert "API_KEY_SECRET_ID" in answer.body["error"]["message"]
    assert "Retry-After" in answer.headers
    assert "API_KEY_SECRET_ID" in _one_line(logs, "invalid_setting")["problem"]
    assert sandbox.gateway.received == []


def test_an_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch, logs: Logs) -> None:
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "Turkey")
    assert webhook("zapier").code == "invalid_setting"
    assert "DEFAULT_PHONE_REGION" in _one_line(logs, "invalid_setting")["problem"]


def test_the_secret_does_not_exist(monkeypatch: pytest.MonkeyPatch, logs: Logs) -> None:
    monkeypatch.setenv("API_KEY_SECRET_ID", "owner-webhook/no-such-secret")
    answer = webhook("generic")
    assert (answer.status, answer.code) == (503, "secret_not_found")
    assert "ResourceNotFoundException" in _one_line(logs, "secret_not_found")["problem"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ('["not", "an", "object"]', "secret_malformed"),
        ('{"api_key": ', "secret_malformed"),
        (json.dumps({"webhook_secrets": {"zapier": webhook_secret("zapier")}}), "api_key_missing"),
        ('{"api_key": "", "webhook_secrets": {}}', "api_key_missing"),
    ],
)
def test_the_secret_has_the_wrong_shape(sandbox: Sandbox, logs: Logs, value: str, code: str) -> None:
    sandbox.aws.put_secret(value)
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, code)
    _one_line(logs, code)
    assert sandbox.gateway.received == []


@pytest.mark.parametrize(
    "value",
    [
        "too-short",
        "[" + "k" * 40,  # begins as a list of keys, and is none
        "[]",
        json.dumps(["k" * 40, "too-short"]),
    ],
)
def test_a_phone_key_that_is_not_one_is_refused(sandbox: Sandbox, logs: Logs, value: str) -> None:
    sandbox.aws.put_secret(value, PHONE_KEY_SECRET_ID)
    try:
        answer = webhook("zapier")
    finally:
        sandbox.aws.put_secret(LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID)
    assert (answer.status, answer.code) == (503, "phone_key_malformed")
    assert "Retry-After" in answer.headers
    line = _one_line(logs, "phone_key_malformed")
    assert "PHONE_KEY_SECRET_ID" in line["problem"] and "k" * 40 not in json.dumps(line)
    assert sandbox.gateway.received == []


def test_a_binary_secret_is_refused(sandbox: Sandbox, logs: Logs) -> None:
    client = sandbox.aws.client("secretsmanager")
    client.create_secret(Name="owner-webhook/binary", SecretBinary=b"\x00key")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("API_KEY_SECRET_ID", "owner-webhook/binary")
            assert webhook("zapier").code == "secret_malformed"
    finally:
        client.delete_secret(SecretId="owner-webhook/binary", ForceDeleteWithoutRecovery=True)
    _one_line(logs, "secret_malformed")


def test_secrets_manager_unreachable(monkeypatch: pytest.MonkeyPatch, logs: Logs, closed_port: int) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, "secret_store_unavailable")
    assert "Retry-After" in answer.headers
    _one_line(logs, "secret_store_unavailable")


def test_the_function_recovers_once_the_secret_is_fixed(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")
    sandbox.aws.put_secret('{"webhook_secrets": {}}')
    assert webhook("zapier").code == "api_key_missing"
    from sandbox.aws import LOCAL_SECRET

    sandbox.aws.put_secret(LOCAL_SECRET, SECRET_ID)
    assert webhook("zapier").status == 200


@pytest.mark.parametrize(
    ("source", "entry", "sent"),
    [
        ("jotform", "  ", {"token": "%20%20"}),
        ("jotform", "  ", {"token": "+"}),
        ("jotform", "", {"token": ""}),
        ("zapier", " ", {"authorization": "Bearer  "}),
        ("zapier", "\t", {"x-webhook-token": "\t"}),
        ("generic", "whsec_", {}),
        ("generic", "whsec_====", {}),
    ],
)
def test_a_webhook_secret_that_would_let_anyone_in_accepts_nothing_and_says_so(
    sandbox: Sandbox, logs: Logs, source: str, entry: str, sent: dict[str, str]
) -> None:
    from sandbox import senders
    from sandbox.aws import LOCAL_SECRET
    from sandbox.events import HttpRequest, http_api_event
    from tests.integration.conftest import invoke_event

    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], source: entry}})
    request = senders.request(source)
    if source == "generic":  # signed with a key of no bytes: what anyone could compute
        now = str(int(time.time()))
        mac = hmac.new(b"", f"msg_1.{now}.".encode() + request.body, hashlib.sha256).digest()
        signed = {"webhook-id": "msg_1", "webhook-timestamp": now, "webhook-signature": f"v1,{b64encode(mac).decode()}"}
        request = HttpRequest("POST", request.path, request.body, {**request.headers, **signed})
    elif "token" in sent:
        request = HttpRequest("POST", request.path, request.body, request.headers, f"token={sent['token']}")
    else:
        request = HttpRequest("POST", request.path, request.body, {**request.headers, "authorization": "", **sent})
    answer = invoke_event(http_api_event(request))
    assert (answer.status, answer.code) == (503, "webhook_secret_invalid")
    assert "Retry-After" in answer.headers
    line = _one_line(logs, "webhook_secret_invalid")
    assert line["source"] == source
    assert f"webhook_secrets.{source}" in line["problem"]
    assert sandbox.gateway.received == []
    assert invoke_event(http_api_event(senders.request("tally"))).status == 200  # the other sources still work


@pytest.mark.parametrize(
    "api_key",
    [
        "gw-7f3a\r\nX-Injected: 1",
        "gw-7f3a\nb",
        "gw-7f3a\x00",
        "gw-7f3aé",
        "gw-7f3aключ",
        "gw-7f3a\ud800",
        "gw-7f3a b",
        "gw-7f3a\x7f",
    ],
)
def test_an_api_key_no_header_can_carry_is_a_configuration_error(sandbox: Sandbox, logs: Logs, api_key: str) -> None:
    from sandbox.aws import LOCAL_SECRET

    sandbox.aws.put_secret({**LOCAL_SECRET, "api_key": api_key})
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, "api_key_invalid")
    line = _one_line(logs, "api_key_invalid")
    assert "api_key" in line["problem"]
    assert "gw-7f3a" not in json.dumps(line)  # the key itself is never logged
    assert sandbox.gateway.received == []
