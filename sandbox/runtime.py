"""The built artifact hosted by the Lambda runtime protocol, without Docker.

The Runtime Interface Emulator that the SAM CLI wheel ships (the binary `sam local` runs inside its
containers) starts `awslambdaric`, the runtime interface client of AWS's Python base images, in the
runtime-like interpreter of `make runtime`, and serves invocations on 127.0.0.1. Used by `make invoke`,
the runtime tests and the benchmark's cold start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = ROOT / ".runtime" / "bin" / "python"
BUILD = ROOT / ".aws-sam" / "build"
# As template.yaml declares them.
FUNCTIONS = {
    "WebhookFunction": ("owner_webhook.handler.lambda_handler", 10),
    "ForwarderFunction": ("owner_webhook.forwarder.lambda_handler", 60),
}
_INVOCATIONS = "/2015-03-31/functions/function/invocations"
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
_INVOKE_DONE = re.compile(r"INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)")


@dataclass(frozen=True)
class Invocation:
    payload: Any  # what the function returned (or the runtime's error object), parsed
    logs: list[str]  # what the function printed during this invocation
    report: str  # the runtime's REPORT line
    init_report: str | None  # its INIT REPORT line, on the invocation that started the function
    init_ms: float | None  # the INIT duration from that line
    duration_ms: float  # the runtime's own measure of the invocation (INVOKE RTDONE)


def emulator() -> Path:
    """The RIE binary for this machine, from the SAM CLI package."""
    spec = importlib.util.find_spec("samcli")
    if spec is None or spec.origin is None:
        raise SystemExit("the SAM CLI is not installed: run `make` from the repository (it installs .venv)")
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return Path(spec.origin).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"


def artifact(function: str) -> Path:
    """The `sam build` output of one function; SystemExit when there is none."""
    code = BUILD / function
    if not (code / "owner_webhook" / "__init__.py").is_file():
        raise SystemExit(f"no sam build artifact in {code}: run `make build`")
    return code


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LambdaRuntime:
    """One function instance: the RIE and the runtime it starts, for `code` with `handler`.

    The runtime starts on the first invocation (its INIT), as Lambda starts an instance on demand.
    Invocations are handled one at a time.
    """

    def __init__(
        self,
        code: Path,
        handler: str,
        environment: dict[str, str],
        *,
        timeout: int = 10,
        memory: int = 256,
        name: str = "owner-webhook-local",
    ) -> None:
        self.code, self.handler = code, handler
        self._environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            **environment,
            "PYTHONPATH": str(code),  # the task root first, as /var/task is on Lambda
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's file system is read-only
            "LAMBDA_TASK_ROOT": str(code),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        }
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._process: subprocess.Popen[str] | None = None
        self._http = urllib3.PoolManager()
        self.url = ""

    def start(self) -> LambdaRuntime:
        if not RUNTIME_PYTHON.exists():
            raise SystemExit(f"no runtime-like interpreter in {RUNTIME_PYTHON.parent.parent}: run `make runtime`")
        port = free_port()
        # Both ports chosen here: the RIE's own default (9001) is shared by every emulator on the machine.
        self._process = subprocess.Popen(
            [
                str(emulator()),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{port}",
                "--runtime-api-address",
                f"127.0.0.1:{free_port()}",
                str(RUNTIME_PYTHON),
                "-m",
                "awslambdaric",
                self.handler,
            ],
            cwd=self.code,
            env=self._environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, name="rie-output", daemon=True).start()
        self.url = f"http://127.0.0.1:{port}{_INVOCATIONS}"
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return self
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the runtime interface emulator did not start:\n{self._drain()}")
            time.sleep(0.02)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _drain(self) -> str:
        lines = []
        while not self._lines.empty():
            lines.append(self._lines.get() or "")
        return "\n".join(lines)

    def invoke(self, event: Any) -> Invocation:
        """Invoke the function with `event` as Lambda does; its answer, its log lines and the REPORT."""
        response = self._http.request(
            "POST", self.url, body=json.dumps(event).encode(), timeout=urllib3.Timeout(connect=5, read=None)
        )
        logs: list[str] = []
        init_report: str | None = None
        init_ms: float | None = None
        duration_ms = 0.0
        while True:
            try:
                line = self._lines.get(timeout=10)
            except queue.Empty:
                raise RuntimeError(f"no REPORT line from the runtime; so far: {logs}") from None
            if line is None:
                raise RuntimeError(f"the runtime interface emulator stopped; its last lines: {logs}")
            if line.startswith("REPORT RequestId:"):
                payload = json.loads(response.data)
                return Invocation(payload, logs, line.rstrip(), init_report, init_ms, duration_ms)
            if match := _INIT_REPORT.search(line):
                init_report, init_ms = line[match.start() :], float(match[1])
            elif match := _INVOKE_DONE.search(line):
                duration_ms = float(match[1])
            elif "(rapid)" not in line and not line.startswith(("START RequestId:", "END RequestId:")):
                logs.append(line)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)  # the RIE and the runtime it started
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._http.clear()

    def __enter__(self) -> LambdaRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def function_runtime(function: str, environment: dict[str, str], **options: Any) -> LambdaRuntime:
    """A runtime for one of the template's functions, from its `sam build` output."""
    handler, timeout = FUNCTIONS[function]
    return LambdaRuntime(artifact(function), handler, environment, **{"timeout": timeout, **options})
