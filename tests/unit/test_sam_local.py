"""`sam local` as docs/local.md gives it: what events/env.json sets reaches the function, production keeps
AWS's endpoints, the region is the stand-ins', and the documented lines are the ones the check runs."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import boto3
import pytest
import yaml

from sandbox import sam_local
from sandbox.aws import REGION
from tests.conftest import EVENTS, ROOT


class _TemplateLoader(yaml.SafeLoader):
    """template.yaml with its CloudFormation tags (!Ref, !Sub, ...) read as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, _suffix, node: None)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_TemplateLoader)  # noqa: S506
    return loaded


def declared(function: str) -> dict[str, Any]:
    """The environment variables the template declares for a function: sam local sets no others."""
    spec = template()
    own = spec["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**spec["Globals"]["Function"]["Environment"]["Variables"], **own}


@pytest.mark.parametrize("function", ["WebhookFunction", "ForwarderFunction"])
def test_every_variable_in_env_json_is_declared_so_sam_local_applies_it(function: str) -> None:
    env = json.loads((EVENTS / "env.json").read_text())
    assert set(env[function]) <= set(declared(function))


def test_the_deployed_endpoint_variable_is_empty_and_boto3_then_uses_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    assert declared("WebhookFunction")["AWS_ENDPOINT_URL"] == ""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    for service in ("secretsmanager", "dynamodb", "sqs"):
        client = boto3.client(service, region_name="eu-west-1")  # type: ignore[call-overload]
        assert client.meta.endpoint_url == f"https://{service}.eu-west-1.amazonaws.com"


def test_arm64_is_deployed_and_x86_64_can_be_chosen() -> None:
    parameter = template()["Parameters"]["Architecture"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("arm64", ["arm64", "x86_64"])


def test_sam_local_runs_in_the_region_of_the_local_stand_ins() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    assert config["local_invoke"]["parameters"]["region"] == config["local_start_api"]["parameters"]["region"] == REGION


def test_the_docs_give_the_lines_that_make_sam_local_check_runs() -> None:
    readme = re.sub(r" \\\n\s+", " ", (ROOT / "docs" / "local.md").read_text())  # continued lines joined
    for line in [*sam_local.lines("x86_64"), sam_local.CURL]:
        assert line in readme
