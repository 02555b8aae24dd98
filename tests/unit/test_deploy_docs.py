"""The docs and the template agree on the deploy-time settings: every documented setting is a template
parameter, the parameter table of docs/deployment.md is the template's, and no doc names a parameter the
template lacks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_template import CODE_METRICS, load_template

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# CamelCase names in the docs that are neither parameters nor the template's resources, outputs or
# metrics: AWS's and Python's own names.
# The function's own classes, which the docs name too (`DeliveryService`, `PhoneRecord`).
CODE_NAMES = {
    found
    for path in (ROOT / "src" / "owner_webhook").rglob("*.py")
    for found in re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)
}
OTHER_NAMES = {
    "OwnerWebhook",  # the metrics' namespace
    "ApproximateAgeOfOldestMessage",
    "ApproximateNumberOfMessagesVisible",
    "ReportBatchItemFailures",
    "MaximumConcurrency",  # the SQS event source's ScalingConfig
    "ReservedConcurrentExecutions",
    "PutFunctionConcurrency",  # Lambda's API call that reserves it
    "ExcludePunctuation",  # what a secret's generated value leaves out
    "ExcludeCharacters",
    "CodeUri",  # a SAM function's property
    "TooManyRequestsException",  # Lambda's answer to an invoke beyond the reserved concurrency
    "AccessDenied",  # S3's answers to a kept refusal's write
    "NoSuchBucket",
    "HandshakeKey",  # Wufoo's credential field
    "PoolManager",
    "RecursionError",
    "UnicodeError",
}
CAMEL = r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _table(path: Path, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose header starts with `header`: first cell (unquoted) → the others."""
    rows: dict[str, list[str]] = {}
    inside = False
    for line in path.read_text().splitlines():
        if line.startswith(header):
            inside = True
        elif inside and line.startswith("|") and not line.startswith("| ---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
        elif inside and not line.startswith("|"):
            break
    return rows


def _environment(template: dict[str, Any]) -> dict[str, Any]:
    """Every variable the template sets on a function, Globals included."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables |= resource["Properties"].get("Environment", {}).get("Variables", {})
    return variables


def test_every_documented_setting_is_set_by_the_template(template: dict[str, Any]) -> None:
    documented = _table(ROOT / "docs" / "configuration.md", "| variable |")
    assert len(documented) >= 18
    environment = _environment(template)
    assert not sorted(set(documented) - set(environment)), "settings no deploy can change"
    for name in documented:
        value = environment[name]
        if isinstance(value, dict) and "Fn::If" in value:  # a resource that a condition creates, else empty
            _condition, value, otherwise = value["Fn::If"]
            assert otherwise == "", (name, otherwise)
        assert isinstance(value, dict) and set(value) <= {"Ref", "Fn::GetAtt"}, (name, value)


def test_the_parameter_table_is_the_templates(template: dict[str, Any]) -> None:
    table = _table(ROOT / "docs" / "deployment.md", "| parameter |")
    parameters = template["Parameters"]
    assert list(table) and set(table) == set(parameters), set(table) ^ set(parameters)
    for name, (default, meaning) in table.items():
        expected = parameters[name].get("Default")
        shown = "required" if expected is None else "empty" if expected == "" else f"`{expected}`"
        assert default == shown, (name, default, shown)
        assert meaning, name


def test_no_doc_names_a_parameter_the_template_lacks(template: dict[str, Any]) -> None:
    known = (
        set(template["Parameters"])
        | set(template["Resources"])
        | set(template["Outputs"])
        | CODE_METRICS
        | {"FailingAnswers"}
        | OTHER_NAMES
        | CODE_NAMES
    )
    named: dict[str, set[str]] = {}
    for path in [*DOCS, ROOT / "samconfig.toml"]:
        text = path.read_text()
        # `Name` or `Name=value`; docs/senders.md also quotes the senders' own field names (`HandshakeKey`),
        # so there only an override counts.
        names = set() if path.name == "senders.md" else set(re.findall(rf"`({CAMEL})(?:=[^`]*)?`", text))
        names |= set(re.findall(rf"\b({CAMEL})=(?!=)", text))  # Name=value anywhere: an override
        for name in names - known:
            named.setdefault(name, set()).add(path.name)
    assert not named, f"docs name parameters that template.yaml does not have: {named}"
