"""What template.yaml promises beyond what cfn-lint checks: alarms on both functions, an access log without secrets.

The promise: docs/operations.md (alarms, access log) and docs/configuration.md (defaults).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from owner_webhook.sources import NAMES

TEMPLATE = Path(__file__).resolve().parent.parent.parent / "template.yaml"

# HTTP API access-log variables that never hold the query string (Jotform's token travels there): the
# path is the request's path alone. A variable not listed here is refused until someone checks it.
SAFE_VARIABLES = {
    "$context.requestId",
    "$context.requestTime",
    "$context.identity.sourceIp",
    "$context.httpMethod",
    "$context.routeKey",
    "$context.path",
    "$context.protocol",
    "$context.status",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integration.status",
    "$context.integration.latency",
    "$context.error.message",
    "$context.integrationErrorMessage",
}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as {"Fn::...": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader with tags
    return dict(template["Resources"])


def test_the_api_access_log_never_records_the_query_string(resources: dict[str, Any]) -> None:
    settings = resources["WebhookApi"]["Properties"]["AccessLogSettings"]
    group = settings["DestinationArn"]["Fn::GetAtt"].split(".")[0]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(settings["Format"])  # one JSON object per request
    variables = set(re.findall(r"\$[A-Za-z][\w.]*", settings["Format"]))
    assert variables <= SAFE_VARIABLES, variables - SAFE_VARIABLES
    assert {"$context.routeKey", "$context.status", "$context.error.message"} <= variables
    assert "query" not in settings["Format"].lower()
    assert all(isinstance(value, str) for value in line.values())


@pytest.mark.parametrize("function", ["WebhookFunction", "RetryWorkerFunction"])
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_function_has_an_error_and_a_throttle_alarm(resources: dict[str, Any], function: str, metric: str) -> None:
    assert resources[function]["Type"] == "AWS::Serverless::Function"
    alarms = [
        alarm["Properties"]
        for alarm in resources.values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        and alarm["Properties"].get("Namespace") == "AWS/Lambda"
        and alarm["Properties"].get("MetricName") == metric
        and alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"] == alarms[0]["OKActions"]  # notified when it fires and when it clears


def test_every_function_is_in_the_template(resources: dict[str, Any]) -> None:
    functions = {name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"}
    assert functions == {"WebhookFunction", "RetryWorkerFunction"}  # the two the alarms above cover


def test_the_template_names_no_source_so_adding_one_leaves_it_alone() -> None:
    outputs = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Outputs"]  # noqa: S506
    described = " ".join(str(output.get("Description", "")) for output in outputs.values()).lower()
    assert not [name for name in NAMES if name in described]


def _template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader with tags


def test_every_parameter_default_is_the_settings_default() -> None:
    """Defaults are defined once: a template Default that reaches a setting must read as that setting's default."""
    from owner_webhook.settings import load_settings

    template = _template()
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        variables |= resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    base = {"API_KEY_SECRET_ID": "s", "IDEMPOTENCY_TABLE": "t", "PHONE_KEY_SECRET_ID": "k"}
    compared = []
    for variable, value in variables.items():
        parameter = template["Parameters"].get(value.get("Ref", "")) if isinstance(value, dict) else None
        if parameter is None or "Default" not in parameter or variable.startswith(("POWERTOOLS_", "TRACER_")):
            continue
        assert load_settings({**base, variable: str(parameter["Default"])}) == load_settings(base), variable
        compared.append(variable)
    assert {"PHONE_DEDUPLICATION_SECONDS", "IDEMPOTENCY_TTL_SECONDS", "MAX_RECEIVE_COUNT"} <= set(compared)
    assert {"RETRY_DELAY_SECONDS", "FUNCTION_TIMEOUT_SECONDS", "QUEUE_SOURCES", "GATEWAY_BASE_URL"} <= set(compared)


def test_the_shortest_windows_are_the_settings_minimum() -> None:
    from owner_webhook.settings import MIN_WINDOW

    assert _template()["Parameters"]["IdempotencyTtlSeconds"]["MinValue"] == MIN_WINDOW
