"""Tracing is Lambda's own (active tracing in the template; the function bundles no X-Ray SDK: see
test_packaging.py), and each log line names the invocation's trace.

The promise: docs/operations.md (tracing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.stack import Sandbox
from tests.integration.conftest import webhook


def test_each_log_line_names_the_invocations_trace(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # As Lambda sets it for each invocation when active tracing is on.
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    assert webhook("zapier").status == 200
    [line] = logs()
    assert line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
