"""The handler in-process, AWS served by a moto server and the gateway by the sandbox, over real sockets."""

from __future__ import annotations

import functools
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import botocore.loaders
import botocore.session
import pytest
import urllib3

from sandbox.aws import LOCAL_SECRET
from sandbox.catalog import answer_code
from sandbox.events import HttpRequest, LocalContext, function_url_event, http_api_event, rest_api_event
from sandbox.stack import Sandbox
from tests.conftest import ROOT

TOKENS = LOCAL_SECRET["webhook_secrets"]
API_KEY = LOCAL_SECRET["api_key"]


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return answer_code(self.body)


@pytest.fixture(scope="session", autouse=True)
def _service_models_read_once() -> Iterator[None]:
    """Each test builds the function's AWS clients anew, as a cold start does; botocore reads their service
    models from disk once in this process, not once per client (the same files: a third of the suite's time)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader))
        yield


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox: Sandbox) -> None:
    sandbox.gateway.reset()
    sandbox.gateway.accepted_keys = {API_KEY}
    sandbox.aws.put_secret(LOCAL_SECRET)
    sandbox.aws.clear_faults()
    sandbox.aws.clear_table()
    sandbox.aws.empty_bucket()
    assert sandbox.aws.empty_queues() == (sandbox.queue_url, sandbox.dead_letter_url)


def invoke_event(event: dict[str, Any], timeout: float = 10.0) -> Answer:
    """Call the handler as Lambda would (with `timeout` seconds left) and check the answer's shape."""
    from owner_webhook.handler import lambda_handler

    result = lambda_handler(event, LocalContext(timeout_seconds=timeout))
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    assert headers.get("Content-Type") == "application/json"
    body = json.loads(result["body"])
    assert isinstance(body.get("success"), bool)
    return Answer(result["statusCode"], body, headers)


_HTTP = urllib3.PoolManager()


def deliver(request: HttpRequest, url: str | None = None) -> Answer:
    """Send `request` to the function in this process (url None) or to another instance over HTTP."""
    if url is None:
        return invoke_event(http_api_event(request))
    target = url + request.path + (f"?{request.query}" if request.query else "")
    response = _HTTP.request("POST", target, body=request.body, headers=dict(request.headers))
    return Answer(response.status, json.loads(response.data), dict(response.headers))


Shape = Callable[[HttpRequest], dict[str, Any]]
SHAPES: dict[str, Shape] = {"http-api": http_api_event, "rest-api": rest_api_event, "function-url": function_url_event}


def webhook(
    source: str,
    fields: dict[str, Any] | None = None,
    *,
    token: str | None = "default",
    headers: dict[str, str] | None = None,
    form: bool = False,
    body: bytes | None = None,
    shape: str = "http-api",
) -> Answer:
    """POST a webhook to /webhooks/{source} the way the automation tools do."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}
    if token == "default":
        token = TOKENS.get(source)
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    for name, value in (headers or {}).items():  # a header given again replaces, whatever its case
        all_headers = {k: v for k, v in all_headers.items() if k.lower() != name.lower()} | {name: value}
    if body is None:
        data = fields if fields is not None else {"phone": "0555 123 45 67"}
        body = urlencode(data).encode() if form else json.dumps(data).encode()
    return invoke_event(SHAPES[shape](HttpRequest("POST", f"/webhooks/{source}", body, all_headers)))


@pytest.fixture
def logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The function's log lines during the test, parsed."""
    from owner_webhook.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def closed_port() -> int:
    """A local port that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def instances(sandbox: Sandbox) -> Iterator[list[str]]:
    """Four more function instances, each in its own process, sharing the moto server and the gateway."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "sandbox.instance"], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    urls = []
    for process in processes:
        assert process.stdout is not None
        urls.append(process.stdout.readline().strip())
    yield urls
    for process in processes:
        process.terminate()
        process.wait(10)
