"""The files in events/: each one's answer, in-process and over real HTTP through the local endpoint.

The promise: docs/local.md.
"""

from __future__ import annotations

import json
import re

import pytest

from sandbox import catalog, senders
from sandbox.aws import SECRETS
from sandbox.demo import send_events, table
from sandbox.endpoint import LocalEndpoint
from sandbox.stack import Sandbox
from tests.conftest import EVENTS, ROOT
from tests.integration.conftest import invoke_event

SOURCES = senders.SOURCES  # the registry's: every source has its events


def test_every_event_has_an_expectation_and_the_cases_are_covered() -> None:
    names = {path.name for path in catalog.files()}
    assert names == set(catalog.expectations())
    for source in ("zapier", "generic"):
        for case in ("success", "invalid-phone", "missing-phone", "bad-token", "form"):
            assert f"{source}-{case}.json" in names
    for source in SOURCES:  # a success and a refusal for every source
        mine = [c for c in catalog.cases() if c.name.startswith(f"{source}-")]
        assert any(c.code == "owner_created" for c in mine), source
        assert any(c.code in ("missing_phone", "invalid_phone") for c in mine), source
        assert any(c.code == "unauthenticated" for c in mine), source
    assert {"rest-api-generic.json", "function-url-zapier.json", "zapier-repeated-phone.json"} <= names
    for case in catalog.cases():  # a repeat comes after its first delivery, as make demo sends them
        assert case.after is None or case.after < case.name


@pytest.mark.parametrize("case", catalog.cases(), ids=lambda c: c.name)
def test_event_file(sandbox: Sandbox, case: catalog.Case) -> None:
    sandbox.aws.put_secret(SECRETS[case.secret])
    first = [c for c in catalog.cases() if c.name == case.after]
    for earlier in first:  # a repeated phone: its first delivery
        assert invoke_event(earlier.event).code == earlier.code
    answer = invoke_event(case.event)
    assert (answer.status, answer.code) == (case.status, case.code)
    assert sandbox.gateway.owners == [c.owner for c in [*first, case] if c.owner]


def test_every_event_over_http_through_the_local_endpoint(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from owner_webhook.handler import lambda_handler

    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")
    endpoint = LocalEndpoint(lambda_handler).start()
    try:
        rows = send_events(endpoint.url, sandbox)
    finally:
        endpoint.stop()
    assert [row.event for row in rows if not row.expected] == []
    assert len(rows) == len(catalog.files())
    # docs/local.md shows some of make demo's rows: each as make demo prints it.
    local = (ROOT / "docs" / "local.md").read_text().splitlines()
    shown = [line for line in local if re.match(r"\S+\.json +\d{3} ", line)]
    assert len(shown) >= 4
    assert [line for line in shown if line not in table(rows)] == []


def test_stale_timestamps_are_refused_until_signed_again(sandbox: Sandbox) -> None:
    [webflow] = [c for c in catalog.cases() if c.name == "webflow-success.json"]
    as_filed = json.loads((EVENTS / webflow.name).read_text())
    assert invoke_event(as_filed).code == "unauthenticated"  # signed on 2026-01-01: a replay by now
    assert invoke_event(webflow.event).code == "owner_created"


def test_env_json_names_the_template_function() -> None:
    env = json.loads((EVENTS / "env.json").read_text())
    template = (EVENTS.parent / "template.yaml").read_text()
    for function, variables in env.items():
        assert f"  {function}:\n    Type: AWS::Serverless::Function" in template
        assert {"API_KEY_SECRET_ID", "GATEWAY_BASE_URL", "AWS_ENDPOINT_URL"} <= set(variables)
