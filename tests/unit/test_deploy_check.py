"""`make deploy-check`'s derived copy (docs/deployment.md, "make deploy-check"): the docs list every change it
makes and why, the copy differs from template.yaml by those changes only, and template.yaml keeps none of them."""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any

import pytest

from owner_webhook.credentials import PhoneKeyError, parse_phone_keys
from sandbox import deploy_check
from sandbox.deploy_check import CHANGES, PARAMETERS, DeployCheckError, Emulator, Target, derive
from tests.conftest import ROOT
from tests.unit.test_deploy_docs import _table
from tools import template

EMULATOR = Emulator(4566, Path("ministack.log"))


def derived() -> dict[str, Any]:
    return derive(Target("stack", EMULATOR, dict(PARAMETERS)))


def test_the_docs_list_every_change_and_its_reason() -> None:
    rows = _table(ROOT / "docs" / "deployment.md", "| the derived copy, or a call after the deploy |")
    assert [(what, why) for what, (why,) in rows.items()] == [
        (change.what.strip("`"), change.why) for change in CHANGES
    ]


def test_the_copy_differs_from_the_template_by_the_listed_changes_only() -> None:
    original, copied = template.load(), derived()
    resources = original["Resources"]
    queries = {name for name, r in resources.items() if r["Type"] == "AWS::Logs::QueryDefinition"}
    metric_alarms = {name for name, r in resources.items() if "Metrics" in r.get("Properties", {})}
    assert len(queries) == 7 and metric_alarms == {"UpstreamFailureAlarm", "DeadLetterAlarm", "SenderFailingAlarm"}
    assert set(resources) - set(copied["Resources"]) == queries | metric_alarms | {"Dashboard"}
    assert set(copied["Resources"]) - set(resources) == {"WebhookIntegration", "WebhookRoute"}
    assert set(original["Outputs"]) - set(copied["Outputs"]) == {"DashboardUrl"}
    route = copied["Resources"]["WebhookRoute"]["Properties"]
    assert route["RouteKey"] == "POST /webhooks/{source}"
    # Every kept resource as written, but for the listed properties.
    expected = copy.deepcopy(original)
    for name in ("WebhookFunction", "ForwarderFunction"):
        expected["Resources"][name]["Properties"]["CodeUri"] = str(ROOT / "src")
    scaling = expected["Resources"]["ForwarderFunction"]["Properties"]["Events"]["Retry"]["Properties"]
    scaling["ScalingConfig"]["MaximumConcurrency"] = 10
    expected["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"] = EMULATOR.endpoint
    policy = expected["Resources"]["RefusedBucketPolicy"]["Properties"]["PolicyDocument"]
    assert [s["Sid"] for s in policy["Statement"]] == ["OnlyTls", "OnlyKmsEncryption", "OnlyTheStacksKey"]
    policy["Statement"] = policy["Statement"][1:]  # the emulator is plain HTTP: only the TLS statement goes
    generated = expected["Resources"]["PhoneKeySecret"]["Properties"]["GenerateSecretString"]
    generated["ExcludeCharacters"] = string.punctuation
    for name, resource in copied["Resources"].items():
        if name in resources:
            assert resource == expected["Resources"][name], name
    assert copied["Globals"] == expected["Globals"]
    assert copied["Conditions"] == original["Conditions"] and copied["Parameters"] == original["Parameters"]


def test_a_change_that_changes_nothing_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    without_queries = template.load()
    for name in [n for n, r in without_queries["Resources"].items() if r["Type"] == "AWS::Logs::QueryDefinition"]:
        del without_queries["Resources"][name]
    monkeypatch.setattr(deploy_check.template, "load", lambda: copy.deepcopy(without_queries))
    with pytest.raises(DeployCheckError, match="changed nothing"):
        derived()


def test_the_template_keeps_no_emulator_only_part() -> None:
    text = (ROOT / "template.yaml").read_text().lower()
    assert "ministack" not in text
    assert not {"WebhookIntegration", "WebhookRoute"} & set(template.load()["Resources"])


def test_the_copy_names_the_punctuation_the_template_excludes_and_a_key_that_begins_with_one_is_refused() -> None:
    generated = derived()["Resources"]["PhoneKeySecret"]["Properties"]["GenerateSecretString"]
    assert generated == {"PasswordLength": 64, "ExcludePunctuation": True, "ExcludeCharacters": string.punctuation}
    with pytest.raises(PhoneKeyError):  # why: the function refuses a key the emulator could otherwise generate
        parse_phone_keys("[" + "aB3" * 21)
