"""Each outcome emits its metric (EMF), by source and for all sources; cold starts are counted.

The promise: docs/operations.md (metrics).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox import senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.senders import sign
from sandbox.stack import Sandbox
from tests.integration.conftest import invoke_event


def _emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _names(records: list[dict[str, Any]]) -> list[str]:
    """The metrics the EMF records name, each as often as a record names it."""
    return [m["Name"] for r in records for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]


def _metric(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [record] = [r for r in records if name in _names([r])]
    return record


CASES = [
    ("zapier", lambda gw: None, "0555 123 45 67", None, "OwnerCreated"),
    ("typeform", lambda gw: None, "+90 555", None, "PhoneRefused"),
    ("tally", lambda gw: None, "0555 123 45 67", "wrong", "Unauthenticated"),
    ("webflow", lambda gw: gw.inject(Fault(status=500)), "0555 123 45 67", None, "UpstreamFailure"),
    ("jotform", lambda gw: gw.inject(Fault(reset=True)), "0555 123 45 67", None, "AmbiguousForward"),
]


@pytest.mark.parametrize(("source", "prepare", "phone", "secret", "metric"), CASES, ids=[c[4] for c in CASES])
def test_each_outcome_emits_its_metric_with_the_source(
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    source: str,
    prepare: Any,
    phone: str,
    secret: str | None,
    metric: str,
) -> None:
    prepare(sandbox.gateway)
    invoke_event(http_api_event(senders.request(source, phone, secret=secret)))
    record = _metric(_emf(capsys.readouterr().out), metric)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "OwnerWebhook"
    assert directive["Dimensions"] == [["source", "service"], ["service"]]
    assert (record["source"], record["service"], record[metric]) == (source, "owner-webhook", [1.0])


def test_replays_and_malformed_requests_are_counted(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    request = senders.request("generic", delivery_id="metric-replay")
    invoke_event(http_api_event(request))
    invoke_event(http_api_event(request))
    malformed = HttpRequest("POST", "/webhooks/generic", b"{", {"content-type": "application/json"})
    invoke_event(http_api_event(sign("generic", malformed, LOCAL_SECRET["webhook_secrets"]["generic"])))
    invoke_event(http_api_event(HttpRequest("POST", "/webhooks/nope", b"{}", {"content-type": "application/json"})))
    records = _emf(capsys.readouterr().out)
    assert _metric(records, "DuplicateReplayed")["source"] == "generic"
    assert {r["source"] for r in records if "MalformedRequest" in r} == {"generic", "unknown"}


def test_the_cold_start_is_counted_once(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics.provider import cold_start

    cold_start.is_cold_start = True
    invoke_event(http_api_event(senders.request("zapier")))
    invoke_event(http_api_event(senders.request("zapier", "05551234568")))
    assert _names(_emf(capsys.readouterr().out)).count("ColdStart") == 1


def test_every_outcome_is_in_the_docs() -> None:
    from owner_webhook import outcomes
    from tests.conftest import ROOT

    table = (ROOT / "docs" / "answers.md").read_text()
    operations = (ROOT / "docs" / "operations.md").read_text()
    forwarder = operations[operations.index("the forwarder writes one line per message") :]
    metrics = operations[operations.index("Metrics (CloudWatch namespace") :]
    for outcome in outcomes.ALL.values():  # the answers table, or the forwarder's log line, names each one
        assert f"`{outcome.code}`" in table or f"`{outcome.code}`" in forwarder, outcome.code
        assert f"`{outcome.metric}`" in metrics, outcome.metric
    named = {word.strip("|") for word in metrics.split() if word.startswith("`")}
    assert {f"`{name}`" for name in {*outcomes.ALSO_METRICS, "ColdStart"}} <= named
    for name in ("`out_of_time`", "`LikelyLost`", "`GatewayKeyRefused`", "`GatewayMisdirected`"):
        assert name in table, name
