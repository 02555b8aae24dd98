"""`sam local invoke` and `start-api` forward (docs/local.md, "With Docker: sam local"), checked without Docker.

The webhook's environment is built by SAM CLI's own code, as `sam local invoke WebhookFunction --env-vars
events/env.json` builds it for the container: template.yaml's variables, its intrinsics resolved as SAM CLI
resolves them (a `!Ref` of a function gives its logical id, which nothing can invoke locally), events/env.json's
values over them, the region of samconfig.toml. Only the container's way to this machine (host.docker.internal)
becomes the stand-ins' addresses. The handler run with that environment must forward to a reachable gateway:
an answer of `queued` is the regression this guards against.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.aws import REFUSED_BUCKET
from sandbox.base_image import architecture
from sandbox.events import LocalContext
from sandbox.stack import Sandbox
from tests.conftest import EVENTS, ROOT
from tests.integration.conftest import invoke_event
from tests.unit.test_template import load_template

Logs = Callable[[], list[dict[str, Any]]]
CONTAINER_HOST = "http://host.docker.internal"


def declared_variables() -> set[str]:
    """Every variable the template declares for a function (Globals and each function's own)."""
    template = load_template()
    declared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        declared |= set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return declared


def sam_local_environment(function: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The variables `sam local invoke <function> --env-vars events/env.json` gives the function's container,
    run from a shell that sets none of them (SAM CLI lets the shell's value of a declared variable win).

    SAM CLI's own providers and its runner's environment step (`_make_env_vars`, not a public interface: if it
    moves, this test fails, never passes quietly)."""
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner

    for name in declared_variables():
        monkeypatch.delenv(name, raising=False)
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    region = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["local_invoke"]["parameters"]["region"]
    stacks, _ = SamLocalStackProvider.get_stacks(
        str(ROOT / "template.yaml"),
        parameter_overrides={"Architecture": architecture()},
        global_parameter_overrides={"AWS::Region": region},
    )
    runner = LocalLambdaRunner(
        local_runtime=None,  # type: ignore[arg-type] - nothing is run: only the environment is built
        function_provider=SamFunctionProvider(stacks),
        cwd=str(ROOT),
        real_path=str(ROOT),
        aws_region=region,
        env_vars_values=json.loads((EVENTS / "env.json").read_text()),
    )
    resolved: dict[str, str] = runner._make_env_vars(runner.get_function(function)).resolve()
    return resolved


def as_in_the_container(environment: dict[str, str], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment as the container's: no variable but those, host.docker.internal the stand-ins."""
    stand_ins = {f"{CONTAINER_HOST}:5001": sandbox.aws.url, f"{CONTAINER_HOST}:8081": sandbox.gateway.url}
    declared = declared_variables()
    for name in declared | set(sandbox.environment()) | {name for name in os.environ if name.startswith("AWS_")}:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        for container, local in stand_ins.items():
            value = value.replace(container, local)
        monkeypatch.setenv(name, value)


def test_sam_local_leaves_no_variable_pointing_at_a_function_nothing_can_invoke(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = sam_local_environment("WebhookFunction", monkeypatch)
    assert environment["FORWARDER_FUNCTION"] == ""  # it forwards in its own process under sam local
    assert environment["AWS_ENDPOINT_URL"] == f"{CONTAINER_HOST}:5001"
    assert environment["GATEWAY_BASE_URL"] == f"{CONTAINER_HOST}:8081"
    assert environment["RETRY_QUEUE_URL"].startswith(f"{CONTAINER_HOST}:5001/")
    # Nor at a resource only a deploy creates: the kept refusals go to make serve's bucket.
    assert environment["REFUSED_BUCKET"] == REFUSED_BUCKET


@pytest.mark.parametrize("event", ["zapier-success.json", "typeform-success.json"])
def test_the_webhook_under_sam_local_forwards_to_a_reachable_gateway(
    event: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    as_in_the_container(sam_local_environment("WebhookFunction", monkeypatch), sandbox, monkeypatch)
    answer = invoke_event(json.loads((EVENTS / event).read_text()))
    assert answer.body != {"success": True, "queued": True}, "sam local invoke would answer queued"
    assert (answer.status, answer.body) == (200, {"success": True})
    expected = json.loads((EVENTS / "expected.json").read_text())[event]
    assert [r.phone for r in sandbox.gateway.received] == [expected["owner"]]
    (line,) = [line for line in logs() if line["message"] == "webhook answered"]
    assert line["outcome"] == "owner_created" and "forwarder_error" not in line


def test_the_forwarder_under_sam_local_drains_its_batch(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    as_in_the_container(sam_local_environment("ForwarderFunction", monkeypatch), sandbox, monkeypatch)
    from owner_webhook.forwarder import lambda_handler

    batch = json.loads((EVENTS / "forwarder" / "retry-batch.json").read_text())
    assert lambda_handler(batch, LocalContext(timeout_seconds=60)) == {"batchItemFailures": []}
    assert sandbox.gateway.owners == ["+905557654321"]


def test_a_refusal_under_sam_local_is_answered_as_such_and_kept_in_make_serves_bucket(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not 503 invalid_setting: the template's REFUSED_BUCKET names a bucket only a deploy creates."""
    as_in_the_container(sam_local_environment("WebhookFunction", monkeypatch), sandbox, monkeypatch)
    answer = invoke_event(json.loads((EVENTS / "zapier-missing-phone.json").read_text()))
    assert (answer.status, answer.code) == (422, "missing_phone")
    assert len(sandbox.aws.kept_refusals()) == 1
