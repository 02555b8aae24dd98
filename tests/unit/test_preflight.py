"""`make preflight` (docs/deployment.md, "A new account: the Lambda concurrency quota"): Lambda keeps 100 of an
account's concurrency unreserved, or all of a quota under 100; the stack's reservations, read from template.yaml
for the parameters given, fit or not, and the preflight names what to set."""

from __future__ import annotations

import pytest

from tools import preflight, template
from tools.preflight import Account, verdict
from tools.stack import ToolError

FORWARDER = "ForwarderFunction"

# quota, unreserved, what the stack holds now, what the deploy reserves: fits?
TABLE = [
    (10, 10, 0, {FORWARDER: 10}, False),  # a new account: the minimum is the whole quota
    (50, 50, 0, {FORWARDER: 10}, False),
    (50, 50, 0, {FORWARDER: 2}, False),  # not even the smallest ceiling
    (10, 10, 0, {}, True),  # QueueEveryDelivery=true reserves nothing
    (1000, 1000, 0, {FORWARDER: 10}, True),
    (1000, 110, 0, {FORWARDER: 10}, True),  # exactly 100 left unreserved
    (1000, 109, 0, {FORWARDER: 10}, False),
    (1000, 100, 10, {FORWARDER: 10}, True),  # an update: the stack's own 10 are released first
    (1000, 1000, 0, {FORWARDER: 10, "WebhookFunction": 891}, False),
    (150, 150, 0, {FORWARDER: 50}, True),
]


@pytest.mark.parametrize(("quota", "unreserved", "held", "wanted", "fits"), TABLE)
def test_the_reservations_fit_while_the_minimum_stays_unreserved(
    quota: int, unreserved: int, held: int, wanted: dict[str, int], fits: bool
) -> None:
    said_fits, lines = verdict(Account(quota, unreserved), wanted, held)
    assert said_fits is fits
    assert f"quota {quota}, unreserved {unreserved}" in lines[0]
    assert any(line.startswith("fits:" if fits else "does not fit:") for line in lines)
    if not fits:
        assert any("QueueEveryDelivery=true" in line for line in lines)


def test_a_lower_ceiling_is_named_when_it_would_fit() -> None:
    _, lines = verdict(Account(1000, 105), {FORWARDER: 10}, 0)
    assert any("GatewayConcurrency=5" in line for line in lines)
    _, lines = verdict(Account(1000, 101), {FORWARDER: 10}, 0)  # room for 1: below an event source's minimum of 2
    assert not any("GatewayConcurrency=" in line for line in lines)


@pytest.mark.parametrize(
    ("given", "reserved"),
    [
        ({}, {FORWARDER: 10}),
        ({"GatewayConcurrency": "4", "ReservedConcurrency": "3"}, {FORWARDER: 4, "WebhookFunction": 3}),
        ({"QueueEveryDelivery": "true"}, {}),
        ({"QueueEveryDelivery": "true", "ReservedConcurrency": "3"}, {}),
    ],
)
def test_the_reservations_are_the_templates_for_the_parameters(given: dict[str, str], reserved: dict[str, int]) -> None:
    assert template.reservations(template.load(), given) == reserved


def test_a_parameter_the_template_lacks_or_a_word_that_is_not_one_is_refused() -> None:
    with pytest.raises(ToolError, match="no parameter GatewayCeiling"):
        template.reservations(template.load(), {"GatewayCeiling": "4"})
    with pytest.raises(ToolError, match="is not Name=value"):
        preflight.overrides(["QueueEveryDelivery"])


def test_the_saved_parameters_and_stack_of_a_configuration_are_read() -> None:
    config = preflight._config("prod")
    assert config["global"]["parameters"]["stack_name"] == "owner-webhook-prod"
    assert preflight._config("no-such-configuration") == {}


def test_the_region_is_where_sam_deploy_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """sam deploy --guided saves the region in samconfig.toml, and sam deploy goes there whatever AWS_REGION says."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    saved = {"deploy": {"parameters": {"region": "eu-west-1"}}, "global": {"parameters": {"region": "eu-central-1"}}}
    assert preflight.deploy_region(saved) == "eu-west-1"
    assert preflight.deploy_region({"global": {"parameters": {"region": "eu-central-1"}}}) == "eu-central-1"
    assert preflight.deploy_region(preflight._config("prod")) == "us-east-1"  # none saved: AWS_REGION
    monkeypatch.delenv("AWS_REGION")
    assert preflight.deploy_region({}) is None  # botocore's own: AWS_DEFAULT_REGION, the profile


def test_without_a_region_it_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    assert preflight.main(["--stack", "s"]) == 1
    assert capsys.readouterr().err.startswith("error: no AWS region: set AWS_REGION")
