"""A misconfigured function answers 503 with its own code and logs one line naming the problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.aws import SECRET_ID
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
        ('{"webhook_secrets": {"zapier": "local-zapier-token"}}', "api_key_missing"),
        ('{"api_key": "", "webhook_secrets": {}}', "api_key_missing"),
    ],
)
def test_the_secret_has_the_wrong_shape(sandbox: Sandbox, logs: Logs, value: str, code: str) -> None:
    sandbox.aws.put_secret(value)
    answer = webhook("zapier")
    assert (answer.status, answer.code) == (503, code)
    _one_line(logs, code)
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
