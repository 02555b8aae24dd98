"""The sandbox's child processes end with the process that started them, even one killed with SIGKILL:
a `make serve` killed so leaves no function instance or moto server running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The middle process: starts the child as the sandbox does, prints the child's pid, and waits to be killed.
MIDDLE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", *sys.argv[1:]], stdout=subprocess.PIPE, text=True)
child.stdout.readline()  # the child is up: its URL
print(child.pid, flush=True)
time.sleep(600)
"""
CHILDREN = [
    ["sandbox.function_instance", "tests.integration.lambda_handlers.handler", "f", "128"],
    ["sandbox.aws_process"],
    ["sandbox.instance"],
]


@pytest.mark.parametrize("child", CHILDREN, ids=lambda child: child[0])
def test_a_child_process_ends_when_its_parent_is_killed(child: list[str]) -> None:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, *child], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    assert middle.stdout is not None
    pid = int(middle.stdout.readline())
    try:
        assert _alive(pid)
        middle.send_signal(signal.SIGKILL)
        middle.wait(10)
        ended_by = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < ended_by:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether the process runs (an ended child of a killed parent is reaped by its new parent, or a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
