"""What the docs count, counted again from the code and the template: the senders, the alarms and the metrics
they watch, the invocations per delivery, how long a phone is remembered as deployed, the senders whose
signature covers no timestamp, and the answers the retry queue changes.

The promise: README.md, docs/security.md, docs/deployment.md ("What it costs"), docs/guarantees.md ("One owner
per phone", "Replays") and docs/answers.md ("With the retry queue on").
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from owner_webhook import errors
from owner_webhook.retry_queue import MAX_RETENTION_SECONDS
from owner_webhook.sources import registry
from owner_webhook.sources.checks import Hmac
from owner_webhook.sources.presets import PRESETS
from owner_webhook.sources.recipe import RecipeSource
from tests.conftest import ROOT
from tests.unit.test_template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
SENDERS_IN_THE_EXAMPLE = 2  # the cost example's "two senders": the sender alarm watches one metric each
WORDS = {1: "one", 2: "two", 3: "three"}


def _doc(name: str) -> str:
    return re.sub(r"\s+", " ", (ROOT / name).read_text()).replace("**", "")


def _named(text: str) -> set[str]:
    return set(re.findall(r"`([a-z0-9_-]+)`", text))


def test_the_senders_the_security_doc_counts_and_names() -> None:
    count = len(PRESETS)
    security = _doc("docs/security.md")
    assert f"drives all {count} sources through 4 outcomes each" in security
    assert f"{count * 4} cases, {count * 4 * 4} requests)" in security  # 4 outcomes, the phone written 4 ways
    assert f"({count * 4} cases, {count * 4 * 2} requests: each logged hashed" in security  # 4 ids, sent twice
    forge = next(row for row in security.split(" | forge a webhook")[1:2])
    assert f"each of the {count} sources authenticates" in forge
    assert _named(forge.split("|")[2]) >= set(PRESETS)


def _alarm_metrics(properties: dict[str, Any]) -> int:
    if "MetricName" in properties:
        return 1
    queried = [m for m in properties["Metrics"] if "GROUP BY source" in m.get("Expression", "")]
    return sum("MetricStat" in m for m in properties["Metrics"]) + SENDERS_IN_THE_EXAMPLE * len(queried)


def test_the_alarms_and_the_metrics_they_watch_as_the_template_has_them() -> None:
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    metrics = sum(_alarm_metrics(alarm) for alarm in alarms)
    deployment = _doc("docs/deployment.md")
    row = next(line for line in deployment.split("| CloudWatch alarms |")[1:2])
    assert row.startswith(f" {len(alarms)} alarms watching {metrics} metrics")
    assert f"| ${metrics * Decimal('0.10'):.2f} |" in row


def test_the_invocations_per_delivery_as_the_template_wires_them() -> None:
    webhook = RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    invocations = 2 if "FORWARDER_FUNCTION" in webhook else 1  # the webhook, and the forwarder it invokes
    deployment = _doc("docs/deployment.md")
    row = deployment.split("| Lambda (arm64) |")[1].split("|")[0]
    assert f"{WORDS[invocations]} invocations per delivery" in row
    assert f"{3000 * invocations:,} × $0.20 per million" in row


def test_the_monthly_total_adds_up() -> None:
    deployment = _doc("docs/deployment.md")
    found = re.search(r"About \$([0-9.]+) a month \(([0-9.+ ]+)\)", deployment)
    assert found
    lines = [Decimal(amount) for amount in found[2].split(" + ")]
    assert sum(lines) == Decimal(found[1]) or abs(sum(lines) - Decimal(found[1])) < Decimal("0.005")
    table = deployment[deployment.index("| item | arithmetic | per month |") : deployment.index("About $")]
    billed = [Decimal(value) for value in re.findall(r"\| \$?(?:up to \$)?([0-9.]+) \|", table)]
    assert sorted(value for value in billed if value) == sorted(value for value in lines if value)


def test_a_phone_is_remembered_as_long_as_the_docs_say_as_deployed() -> None:
    default = int(TEMPLATE["Parameters"]["PhoneDeduplicationSeconds"]["Default"])
    queue_on = "RETRY_QUEUE_URL" in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    days = max(default, MAX_RETENTION_SECONDS if queue_on else 0) // 86_400
    assert f"one owner per phone for {days} days as deployed" in _doc("README.md")
    guarantees = _doc("docs/guarantees.md")
    assert f"without calling the gateway, for {days} days as deployed" in guarantees
    assert f"a replay within {days} days as deployed" in guarantees
    assert f"[stored: {days} days]" in guarantees


def test_the_replays_paragraph_names_every_sender_whose_signature_covers_no_timestamp() -> None:
    untimed = {
        name
        for name, source in registry().items()
        if isinstance(source, RecipeSource)
        and any(not isinstance(c.check, Hmac) or c.check.timestamp is None for c in source.recipe.credentials)
    }
    timed = set(PRESETS) - untimed | {"generic"}  # generic: with a whsec_ secret
    replays = _doc("docs/guarantees.md").split("- Replays.")[1].split("- What can still be lost")[0]
    first, second = replays.split(". The others", 1)
    assert _named(first) & set(PRESETS) == timed
    assert _named(second.split("so a captured delivery")[0]) == untimed


def test_the_answers_the_retry_queue_changes_are_the_transient_failures_after_authentication() -> None:
    def kinds(base: type[errors.WebhookError]) -> list[type[errors.WebhookError]]:
        return [kind for sub in base.__subclasses__() for kind in (sub, *kinds(sub))]

    # Not the secret's or the settings' failures: those come before a delivery is authenticated; nor the queue's
    # own (QueueEveryDelivery's 503 when SQS takes nothing): it cannot become queued.
    before = errors.ConfigurationError | errors.SecretStoreUnavailableError | errors.RetryQueueUnavailableError
    transient = {kind.outcome.code for kind in kinds(errors.TransientError) if not issubclass(kind, before)}
    answers = _doc("docs/answers.md")
    listed = answers.split("## With the retry queue on")[1].split("become")[0]
    assert _named(listed) - {"all"} == transient
