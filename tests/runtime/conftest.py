"""The built artifact hosted by the Lambda runtime (RIE and awslambdaric, sandbox.runtime), not imported:
`make artifact-test` runs this tier after `make build` and `make runtime`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.aws import LOCAL_SECRET
from sandbox.runtime import LambdaRuntime, function_runtime
from sandbox.stack import Sandbox


@pytest.fixture(scope="session")
def stack() -> Iterator[Sandbox]:
    with Sandbox(queue=True) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_stack(stack: Sandbox) -> None:
    stack.gateway.reset()
    stack.gateway.accepted_keys = {LOCAL_SECRET["api_key"]}
    stack.aws.put_secret(LOCAL_SECRET)
    stack.aws.clear_table()
    stack.aws.empty_queues()
    stack.aws.empty_bucket()


def hosted(function: str, stack: Sandbox, **environment: str) -> Iterator[LambdaRuntime]:
    """One instance of `function` from its `sam build` output, configured as deployed against the stack."""
    options: dict[str, Any] = {}
    if "AWS_LAMBDA_FUNCTION_TIMEOUT" in environment:
        options["timeout"] = int(environment.pop("AWS_LAMBDA_FUNCTION_TIMEOUT"))
    try:
        runtime = function_runtime(function, {**stack.environment(), **environment}, **options)
    except SystemExit as exc:  # no artifact or no runtime-like interpreter
        pytest.fail(f"{exc}; `make artifact-test` builds both")
    with runtime:
        yield runtime


@pytest.fixture(scope="module")
def webhook(stack: Sandbox) -> Iterator[LambdaRuntime]:
    """As deployed: deduplication and the retry queue on. The secret is read on every request here, since
    tests change it."""
    yield from hosted("WebhookFunction", stack, SECRET_CACHE_SECONDS="0")


@pytest.fixture(scope="module")
def forwarder(stack: Sandbox) -> Iterator[LambdaRuntime]:
    yield from hosted("ForwarderFunction", stack)
