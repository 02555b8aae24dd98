"""What template.yaml promises beyond what cfn-lint checks: alarms on both functions that reach someone, a
dashboard and alarms on metrics that exist, an access log without secrets, defaults defined once.

The promise: docs/operations.md (dashboard, alarms, access log) and docs/configuration.md (defaults).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from owner_webhook import outcomes, settings
from owner_webhook.sources import NAMES
from tools import template as tools_template

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


def load_template() -> dict[str, Any]:
    """template.yaml, with !Ref, !Sub, ... as {"Ref": ...}, {"Fn::Sub": ...}."""
    template: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader with tags
    return template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template()["Resources"])


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


def _lambda_alarms(resources: dict[str, Any], function: str, metric: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in resources.values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        and alarm["Properties"].get("Namespace") == "AWS/Lambda"
        and alarm["Properties"].get("MetricName") == metric
        and alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]


@pytest.mark.parametrize(
    ("function", "metric"),
    [("WebhookFunction", "Errors"), ("WebhookFunction", "Throttles"), ("ForwarderFunction", "Errors")],
)
def test_each_function_has_an_error_alarm_and_the_webhook_a_throttle_alarm(
    resources: dict[str, Any], function: str, metric: str
) -> None:
    assert resources[function]["Type"] == "AWS::Serverless::Function"
    alarms = _lambda_alarms(resources, function, metric)
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"] == alarms[0]["OKActions"]  # notified when it fires and when it clears


def test_the_forwarders_throttles_are_the_ceiling_at_work_not_an_alarm(resources: dict[str, Any]) -> None:
    assert _lambda_alarms(resources, "ForwarderFunction", "Throttles") == []


def test_the_forwarder_is_the_gateways_ceiling(resources: dict[str, Any]) -> None:
    """docs/guarantees.md, "A burst": the forwarder's reserved concurrency and its queue's MaximumConcurrency
    are the ceiling in flight; the webhook invokes it by name; the rate reaches every instance."""
    forwarder, webhook = resources["ForwarderFunction"]["Properties"], resources["WebhookFunction"]["Properties"]
    ceiling = {"Ref": "GatewayConcurrency"}
    assert forwarder["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesConcurrency", ceiling, {"Ref": "AWS::NoValue"}]
    }
    assert forwarder["Events"]["Retry"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] == ceiling
    assert forwarder["Environment"]["Variables"] == {
        "GATEWAY_CONCURRENCY": ceiling,
        "GATEWAY_RATE_PER_SECOND": {"Ref": "GatewayRatePerSecond"},
        "GATEWAY_ABANDONED_CALL_SECONDS": {"Ref": "GatewayAbandonedCallSeconds"},
        "QUEUE_EVERY_DELIVERY": {"Ref": "QueueEveryDelivery"},  # a replay is then queued, not forwarded
    }
    assert webhook["Environment"]["Variables"]["FORWARDER_FUNCTION"] == {"Ref": "ForwarderFunction"}
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "ForwarderFunction"}}} in webhook["Policies"]
    assert "ReservedConcurrentExecutions" not in webhook or webhook["ReservedConcurrentExecutions"]["Fn::If"][0]


@pytest.mark.parametrize("reserved_concurrency", ["0", "5"])
def test_queue_every_delivery_reserves_no_concurrency_anywhere(reserved_concurrency: str) -> None:
    """docs/deployment.md, "A new account": with QueueEveryDelivery=true, the template as CloudFormation gets it
    from the SAM transform, its conditions evaluated, reserves nothing, and the webhook queues every delivery."""
    given = {"QueueEveryDelivery": "true", "ReservedConcurrency": reserved_concurrency}
    transformed = _transformed(given)
    resolved = tools_template.resolve(transformed, given)
    assert "ReservedConcurrentExecutions" not in json.dumps(resolved)
    webhook = resolved["Resources"]["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert webhook["QUEUE_EVERY_DELIVERY"] == "true"
    mapping = next(r for r in resolved["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == "10"  # the ceiling, kept by the queue
    # By default the forwarder reserves the ceiling (and the test above would see it).
    default = tools_template.resolve(_transformed({}), {})
    assert default["Resources"]["ForwarderFunction"]["Properties"]["ReservedConcurrentExecutions"] == "10"


def _transformed(given: dict[str, str]) -> dict[str, Any]:
    """template.yaml through the SAM transform, as sam deploy hands it to CloudFormation (offline)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    spec = yaml_parse(TEMPLATE.read_text())
    for resource in spec["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:owner-webhook/dev-AbCdEf"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        translated: dict[str, Any] = transform(spec, {"ApiKeySecretArn": arn, **given}, NoManagedPolicies())
    return translated


def test_a_burst_of_a_thousand_requests_in_one_second_passes_the_edge() -> None:
    """docs/guarantees.md, "A burst": the route's token bucket holds 1,000 and refills 200 a second."""
    parameters = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Parameters"]  # noqa: S506
    burst, rate = parameters["ThrottleBurstLimit"]["Default"], parameters["ThrottleRateLimit"]["Default"]
    assert burst >= 1000
    assert rate >= 100  # a tenfold campaign (10,000 a minute) is not cut either
    assert parameters["GatewayConcurrency"]["MinValue"] == 2  # an SQS event source's MaximumConcurrency


def test_every_function_is_in_the_template(resources: dict[str, Any]) -> None:
    functions = {name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"}
    assert functions == {"WebhookFunction", "ForwarderFunction"}  # the two the alarms above cover


def test_the_template_names_no_source_so_adding_one_leaves_it_alone() -> None:
    outputs = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Outputs"]  # noqa: S506
    described = " ".join(str(output.get("Description", "")) for output in outputs.values()).lower()
    assert not [name for name in NAMES if name in described]


# What the code emits (EMF, namespace OwnerWebhook): one metric per outcome, the metrics counted beside one,
# and Powertools' cold start; each with these dimension sets (observability.py).
CODE_METRICS = {o.metric for o in outcomes.ALL.values()} | outcomes.ALSO_METRICS | {"ColdStart"}
CODE_DIMENSIONS = {("service",), ("service", "source")}
COLD_START_DIMENSIONS = ("function_name", "service")
# AWS's own metrics that the dashboard and alarms may name, by namespace.
AWS_METRICS = {
    "AWS/Lambda": {"Duration", "Errors", "Throttles", "Invocations", "ConcurrentExecutions"},
    "AWS/SQS": {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    },
    "AWS/ApiGateway": {"Count", "4xx", "5xx", "Latency", "IntegrationLatency"},
}
SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'")


def _template_metrics(resources: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The metrics the template's own metric filters emit in OwnerWebhook: their dimension keys."""
    found = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            for transformation in resource["Properties"]["MetricTransformations"]:
                assert transformation["MetricNamespace"] == "OwnerWebhook"
                keys = tuple(sorted(d["Key"] for d in transformation.get("Dimensions", [])))
                found[transformation["MetricName"]] = keys
    return found


def _emitted(namespace: str, name: str, dimensions: tuple[str, ...], resources: dict[str, Any]) -> bool:
    if namespace != "OwnerWebhook":
        return name in AWS_METRICS.get(namespace, set())
    if name == "ColdStart":
        return dimensions == COLD_START_DIMENSIONS
    if name in CODE_METRICS:
        return dimensions in CODE_DIMENSIONS
    return _template_metrics(resources).get(name) == dimensions


def _dashboard(resources: dict[str, Any]) -> dict[str, Any]:
    dashboards = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(dashboards) == 1
    body = dashboards[0]["Properties"]["DashboardBody"]["Fn::Sub"]
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))
    return parsed


def _widget_metrics(widget: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric, dimension keys) of each metric a widget names, its SEARCH expressions' included."""
    named = []
    for entry in widget["properties"]["metrics"]:
        if isinstance(entry[0], dict):  # an expression
            search = SEARCH.search(entry[0]["expression"])
            assert search, entry  # only SEARCH expressions: each names what it looks for
            namespace, *keys = (part.strip() for part in search["schema"].split(","))
            names = re.findall(r'MetricName="([^"]+)"', search["terms"]) or ["*"]
            named += [(namespace, name, tuple(sorted(keys))) for name in names]
        else:
            namespace, name, *rest = entry
            pairs = [item for item in rest if isinstance(item, str)]
            named.append((namespace, name, tuple(sorted(pairs[0::2]))))
    return named


def test_every_dashboard_widget_shows_metrics_that_exist(resources: dict[str, Any]) -> None:
    widgets = _dashboard(resources)["widgets"]
    shown = [named for widget in widgets if widget["type"] == "metric" for named in _widget_metrics(widget)]
    assert len(shown) > 20
    missing = [
        (namespace, name, keys)
        for namespace, name, keys in shown
        if not (name == "*" and namespace == "OwnerWebhook" and keys in CODE_DIMENSIONS)  # every outcome
        and not _emitted(namespace, name, keys, resources)
    ]
    assert not missing, f"widgets name metrics nothing emits: {missing}"
    # What an operator asks first: each outcome that needs someone is on the page by name.
    names = {name for _namespace, name, _keys in shown}
    assert {"LikelyLost", "GatewayKeyRefused", "GatewayMisdirected", "FailingAnswers", "DeadLettered"} <= names
    assert {"ColdStart", "Duration"} <= names


def test_the_dashboard_log_widgets_read_the_stack_log_groups(resources: dict[str, Any]) -> None:
    groups = {name for name, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    logs = [w for w in _dashboard(resources)["widgets"] if w["type"] == "log"]
    assert logs
    for widget in logs:
        sources = re.findall(r"SOURCE '<([^>]+)>'", widget["properties"]["query"])
        assert sources and set(sources) <= groups


def test_the_dashboard_shows_every_alarm_and_its_url_is_an_output(resources: dict[str, Any]) -> None:
    alarms = {name for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    (widget,) = [w for w in _dashboard(resources)["widgets"] if w["type"] == "alarm"]
    assert {arn.removesuffix(".Arn>").removeprefix("<") for arn in widget["properties"]["alarms"]} == alarms
    url = load_template()["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert "${Dashboard}" in url


def test_every_alarm_watches_metrics_that_exist(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        stats = [q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q]
        if "MetricName" in properties:
            stats.append(properties)
        queries = [
            q["Expression"] for q in properties.get("Metrics", []) if q.get("Expression", "").startswith("SELECT")
        ]
        for stat in stats:
            keys = tuple(sorted(d["Name"] for d in stat.get("Dimensions", [])))
            assert _emitted(stat["Namespace"], stat["MetricName"], keys, resources), (name, stat["MetricName"])
        for query in queries:
            found = re.fullmatch(r"SELECT SUM\((\w+)\) FROM SCHEMA\((\w+), (\w+)\) GROUP BY (\w+)", query)
            assert found, query
            metric, namespace, key, group = found.groups()
            assert _emitted(namespace, metric, (key,), resources) and group == key
        assert stats or queries, name


def test_every_alarm_mails_the_alert_address_and_the_given_topic(resources: dict[str, Any]) -> None:
    both = [
        {"Fn::If": ["HasAlertEmail", {"Ref": "AlertTopic"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 10  # none on the forwarder's throttles: they are the gateway's ceiling at work
    for name, properties in alarms.items():
        assert properties["AlarmActions"] == both, name
        assert properties["OKActions"] == both, name
        assert "docs/operations.md" in properties["AlarmDescription"], name
    subscription = resources["AlertSubscription"]["Properties"]
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == {"Ref": "AlertEmail"}


def test_the_sender_failing_alarm_counts_each_senders_401_and_5xx_answers(resources: dict[str, Any]) -> None:
    """One contributor per source, whatever sources there are; the failures as the function answered them."""
    (metric_filter,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter"]
    assert metric_filter["LogGroupName"] == {"Ref": "WebhookLogGroup"}
    pattern = metric_filter["FilterPattern"]
    assert '$.message = "webhook answered"' in pattern and "$.status = 401" in pattern and "$.status >= 500" in pattern
    (transformation,) = metric_filter["MetricTransformations"]
    assert transformation["Dimensions"] == [{"Key": "source", "Value": "$.source"}]
    alarm = resources["SenderFailingAlarm"]["Properties"]
    assert "GROUP BY source" in alarm["Metrics"][0]["Expression"]
    # Webflow retries 3 times, 10 minutes apart: two failing answers 10 minutes apart must be enough.
    period = alarm["Metrics"][0]["Period"]
    assert alarm["DatapointsToAlarm"] == 2 and alarm["Threshold"] == 1
    assert (alarm["EvaluationPeriods"] - 1) * period >= 600 > period


def test_the_dead_letter_alarm_fires_for_each_new_dead_letter(resources: dict[str, Any]) -> None:
    alarm = resources["DeadLetterAlarm"]["Properties"]
    (expression,) = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData")]
    assert "DIFF(" in expression  # a rise, not "at least one visible"
    assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 1


def test_the_refused_key_alarm_says_what_to_check(resources: dict[str, Any]) -> None:
    alarm = resources["GatewayKeyRefusedAlarm"]["Properties"]
    assert alarm["MetricName"] == "GatewayKeyRefused" and alarm["Threshold"] == 1 and alarm["Period"] == 60
    assert alarm["AlarmDescription"].startswith("The gateway refuses the API key: check the secret")


def test_a_wrong_gateway_address_alarms_at_once_as_a_refused_key_does(resources: dict[str, Any]) -> None:
    """docs/operations.md, alarms: a redirect, 404 or 405 from the gateway fires within a minute."""
    alarm = resources["GatewayMisdirectedAlarm"]["Properties"]
    assert alarm["MetricName"] == "GatewayMisdirected" and "GatewayMisdirected" in outcomes.ALSO_METRICS
    assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (1, 60, 1)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "owner-webhook"}]
    assert "GatewayBaseUrl" in alarm["AlarmDescription"]


def test_the_rate_the_template_allows_leaves_each_instance_a_whole_call() -> None:
    """docs/guarantees.md, "A burst": no rate below the smallest concurrency (the forwarder refuses the rest)."""
    parameters = _template()["Parameters"]
    assert parameters["GatewayRatePerSecond"]["MinValue"] >= parameters["GatewayConcurrency"]["MinValue"]
    assert "GatewayConcurrency" in parameters["GatewayRatePerSecond"]["ConstraintDescription"]
    assert parameters["GatewayAbandonedCallSeconds"]["MaxValue"] == settings.MAX_ABANDONED_CALL_SECONDS


def _template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader with tags


CEILING = {
    "GATEWAY_CONCURRENCY": settings.GATEWAY_CONCURRENCY,
    "GATEWAY_RATE_PER_SECOND": settings.GATEWAY_RATE_PER_SECOND,
    "GATEWAY_ABANDONED_CALL_SECONDS": settings.GATEWAY_ABANDONED_CALL_SECONDS,
}


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
        if parameter is None or "Default" not in parameter or variable.startswith("POWERTOOLS_"):
            continue
        if variable in CEILING:  # set on the forwarder only, where they turn its pace on: their defaults
            assert parameter["Default"] == CEILING[variable], variable
            compared.append(variable)
            continue
        assert load_settings({**base, variable: str(parameter["Default"])}) == load_settings(base), variable
        compared.append(variable)
    assert {"PHONE_DEDUPLICATION_SECONDS", "IDEMPOTENCY_TTL_SECONDS", "MAX_RECEIVE_COUNT"} <= set(compared)
    assert {"RETRY_DELAY_SECONDS", "FUNCTION_TIMEOUT_SECONDS", "QUEUE_SOURCES", "GATEWAY_BASE_URL"} <= set(compared)
    assert set(CEILING) <= set(compared)


def test_the_shortest_windows_are_the_settings_minimum() -> None:
    from owner_webhook.settings import MIN_WINDOW

    assert _template()["Parameters"]["IdempotencyTtlSeconds"]["MinValue"] == MIN_WINDOW


REFUSED = ("RefusedKey", "RefusedKeyAlias", "RefusedBucket", "RefusedBucketPolicy")


def test_the_kept_refusals_are_encrypted_under_a_rotated_key_private_tls_only_and_forgotten(
    resources: dict[str, Any],
) -> None:
    """docs/security.md, "Kept refusals": SSE-KMS under the stack's own key (rotated), public access blocked, a
    policy that refuses plain HTTP and any other encryption, a lifecycle rule that deletes each object after
    RefusedRetentionDays, no versions kept; none of it (and no variable naming it) when that is 0."""
    key, bucket = resources["RefusedKey"]["Properties"], resources["RefusedBucket"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [administer] = key["KeyPolicy"]["Statement"]  # the account, through IAM: no one else, no wildcard
    assert administer["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": "RefusedKey.Arn"},
    }
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert "VersioningConfiguration" not in bucket
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "RefusedRetentionDays"}
    assert "Prefix" not in rule and "Filter" not in rule  # every object
    statements = resources["RefusedBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [tls] = [s for s in statements if s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Resource"] == [{"Fn::GetAtt": "RefusedBucket.Arn"}, {"Fn::Sub": "${RefusedBucket.Arn}/*"}]
    encryption = [s for s in statements if s is not tls]
    assert all((s["Effect"], s["Principal"], s["Action"]) == ("Deny", "*", "s3:PutObject") for s in encryption)
    key = {"Fn::GetAtt": "RefusedKey.Arn"}
    sse, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
    # The functions put without encryption headers (the bucket's default, the stack's key, applies): allowed.
    # A put that names another encryption, another key, or aws:kms without a key (the AWS managed key): denied.
    for headers, refused in [
        ({}, False),
        ({sse: "aws:kms", key_id: key}, False),
        ({sse: "AES256"}, True),
        ({sse: "aws:kms", key_id: "arn:aws:kms:eu-central-1:123456789012:key/another"}, True),
        ({sse: "aws:kms"}, True),
    ]:
        assert any(_denies(s["Condition"], headers) for s in encryption) == refused, headers
    template = load_template()
    assert template["Conditions"]["KeepsRefusals"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RefusedRetentionDays"}, 0]}]
    }
    assert {name: resources[name].get("Condition") for name in REFUSED} == dict.fromkeys(REFUSED, "KeepsRefusals")
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["REFUSED_BUCKET"] == {"Fn::If": ["KeepsRefusals", {"Ref": "RefusedBucket"}, ""]}
    parameter = template["Parameters"]["RefusedRetentionDays"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, settings.MAX_RETENTION_DAYS)
    outputs = template["Outputs"]
    assert outputs["RefusedBucketName"]["Condition"] == outputs["RefusedKeyArn"]["Condition"] == "KeepsRefusals"


def _denies(condition: dict[str, dict[str, Any]], request: dict[str, Any]) -> bool:
    """Whether a condition block holds for a request's keys, as IAM evaluates the operators used here: every
    operator must hold; a key absent from the request makes `Null: "true"` hold and `Null: "false"` fail, a
    negated operator hold, and an ...IfExists operator hold (AWS's IAM reference, "Condition operators")."""

    def holds(operator: str, key: str, value: Any) -> bool:
        present = key in request
        if operator == "Null":
            return (not present) == (value == "true")
        if operator in ("StringNotEquals", "StringNotEqualsIfExists"):
            return not present or request[key] != value
        raise AssertionError(f"an operator this test does not know: {operator}")

    return all(holds(operator, key, value) for operator, keys in condition.items() for key, value in keys.items())
