"""Tracing is Lambda's own (active tracing in the template; the function bundles no X-Ray SDK: see
test_packaging.py), and each log line names the invocation's trace.

The promise: docs/operations.md (tracing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sandbox.stack import Sandbox
from tests.conftest import ROOT

# One delivery in a fresh interpreter, as a Lambda instance would run it: the function's log lines on stdout.
_INVOKE = """
from owner_webhook.handler import lambda_handler
from sandbox import senders
from sandbox.events import LocalContext, http_api_event
lambda_handler(http_api_event(senders.request("zapier", "0555 123 45 67")), LocalContext())
"""


def test_each_log_line_names_the_invocations_trace(sandbox: Sandbox) -> None:
    # As Lambda sets it for each invocation when active tracing is on.
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "_X_AMZN_TRACE_ID": trace}
    done = subprocess.run(
        [sys.executable, "-c", _INVOKE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stdout.splitlines() if '"webhook answered"' in text]
    assert (line["outcome"], line["xray_trace_id"]) == ("owner_created", "1-5759e988-bd862e3fe1be46a994272793")
