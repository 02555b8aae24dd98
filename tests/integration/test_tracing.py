"""The Tracer: off by default without even importing the X-Ray SDK; on, subsegments without personal data.

The promise: docs/operations.md (tracing).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from sandbox.local_secrets import GATEWAY_KEY, webhook_secret
from sandbox.stack import Sandbox
from tests.conftest import ROOT

_INVOKE = """
from owner_webhook.handler import lambda_handler
from sandbox import senders
from sandbox.events import LocalContext, http_api_event
import sys
result = lambda_handler(http_api_event(senders.request("zapier", "0555 123 45 67")), LocalContext())
print(result["statusCode"], "aws_xray_sdk" in sys.modules)
"""


def _run(extra: dict[str, str]) -> str:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}
    done = subprocess.run(
        [sys.executable, "-c", _INVOKE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_tracing_is_off_by_default_and_the_xray_sdk_is_not_imported(sandbox: Sandbox) -> None:
    assert _run({"TRACER_ENABLED": "false"}) == "200 False"


def test_tracing_on_sends_subsegments_for_the_secret_and_the_gateway_without_personal_data(sandbox: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:  # an X-Ray daemon stand-in
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(1)
        assert (
            _run(
                {
                    "TRACER_ENABLED": "true",
                    "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                    "LAMBDA_TASK_ROOT": str(ROOT),  # as inside Lambda, where Powertools enables the Tracer
                    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                }
            )
            == "200 True"
        )
        sent = b""
        try:
            while True:
                sent += daemon.recv(65535) + b"\n"
        except TimeoutError:
            pass
    text = sent.decode()
    for name in ('"## lambda_handler"', '"secret"', '"gateway"', '"PutItem"'):
        assert name in text
    for private in ("905551234567", "5551234567", GATEWAY_KEY, webhook_secret("zapier")):
        assert private not in text
