"""The files in events/: each one's answer, in-process and over real HTTP through the local endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo import event_files, send_events
from sandbox.endpoint import LocalEndpoint
from sandbox.stack import Sandbox
from tests.conftest import EVENTS
from tests.integration.conftest import invoke_event

EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())


def test_every_event_has_an_expectation_and_the_cases_are_covered() -> None:
    names = {path.name for path in event_files()}
    assert names == set(EXPECTED)
    for source in ("zapier", "generic"):
        for case in ("success", "invalid-phone", "missing-phone", "bad-token", "form"):
            assert f"{source}-{case}.json" in names
    assert {"rest-api-generic.json", "function-url-zapier.json"} <= names


@pytest.mark.parametrize("path", event_files(), ids=lambda p: p.name)
def test_event_file(sandbox: Sandbox, path: Path) -> None:
    want = EXPECTED[path.name]
    answer = invoke_event(json.loads(path.read_text()))
    assert (answer.status, answer.code) == (want["status"], want["code"])
    assert sandbox.gateway.owners == ([want["owner"]] if "owner" in want else [])


def test_every_event_over_http_through_the_local_endpoint(sandbox: Sandbox) -> None:
    from owner_webhook.handler import lambda_handler

    endpoint = LocalEndpoint(lambda_handler).start()
    try:
        rows = send_events(endpoint.url, sandbox.gateway)
    finally:
        endpoint.stop()
    assert [row.event for row in rows if not row.expected] == []
    assert len(rows) == len(EXPECTED)


def test_env_json_names_the_template_function() -> None:
    env = json.loads((EVENTS / "env.json").read_text())
    template = (Path(EVENTS).parent / "template.yaml").read_text()
    for function, variables in env.items():
        assert f"  {function}:\n    Type: AWS::Serverless::Function" in template
        assert {"API_KEY_SECRET_ID", "GATEWAY_BASE_URL", "AWS_ENDPOINT_URL"} <= set(variables)
