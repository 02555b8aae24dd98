"""`make sam-local-check`: the README's `sam local` lines for Docker Engine on Linux, run for real against
`make serve --host 0.0.0.0`, each answer checked. Needs Docker; not part of `make test`: CI runs it after, through
`.ci/sam-local`, which installs Docker where it is missing.

Uses AWS's base image when Docker has it or can pull it, else builds a stand-in (sandbox.base_image) and
says so. Builds for this machine's architecture.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import urllib3

from sandbox import base_image, local_secrets

ROOT = Path(__file__).resolve().parent.parent
ARCH = base_image.architecture()
# docs/local.md gives these lines too (tests/unit/test_sam_local.py holds the two together).
CURL = (
    "curl -s -X POST http://127.0.0.1:3001/webhooks/zapier "
    f"-H 'Authorization: Bearer {local_secrets.webhook_secret('zapier')}' "
    """-H 'Content-Type: application/json' -d '{"phone": "0555 123 45 67"}'"""
)


def lines(arch: str) -> tuple[str, str, str, str]:
    """The documented lines for Docker Engine on Linux: build, invoke each function, start the API."""
    flags = f"--parameter-overrides Architecture={arch} --add-host host.docker.internal:host-gateway"
    env = "--env-vars events/env.json"
    return (
        f"ARCHITECTURE={arch} sam build --parameter-overrides Architecture={arch}",
        f"sam local invoke WebhookFunction -e events/zapier-success.json {env} {flags}",
        f"sam local invoke ForwarderFunction -e events/forwarder/retry-batch.json {env} {flags}",
        f"sam local start-api --port 3001 {env} {flags}",
    )


BUILD, INVOKE_WEBHOOK, INVOKE_FORWARDER, START_API = lines(ARCH)


def run(line: str, extra: str = "") -> str:
    """Run a README line (plus `extra` flags) as a shell would; its standard output."""
    print(f"$ {line}{' ' + extra if extra else ''}", flush=True)
    done = subprocess.run(  # noqa: S602 - the README's own lines, as a user types them
        f"{line} {extra}", shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def image() -> bool:
    """Make sure Docker has the python3.13 base image; whether it is the stand-in."""
    tag = base_image.tag()
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag], capture_output=True, text=True
    )
    if inspected.returncode == 0:
        stand_in = base_image.STAND_IN_LABEL in (json.loads(inspected.stdout) or {})
        print(f"base image: {tag}" + (" (the stand-in built here before)" if stand_in else ""))
        return stand_in
    if subprocess.run(["docker", "pull", tag], capture_output=True, timeout=300, check=False).returncode == 0:
        print(f"base image: {tag}, pulled")
        return False
    print(f"base image: {tag} cannot be pulled here: building a stand-in (sandbox/base_image.py)", flush=True)
    base_image.build(tag)
    return True


@contextlib.contextmanager
def background(command: list[str] | str, ready: str, *, shell: bool = False) -> Iterator[subprocess.Popen[str]]:
    """A process in its own session, until the line that says it is `ready`; stopped with its children."""
    process = subprocess.Popen(
        command,
        shell=shell,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            raise SystemExit(f"{command} stopped:\n{''.join(seen)}")
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: sam stops its containers
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


def check(condition: bool, what: str, got: object) -> None:
    if not condition:
        raise SystemExit(f"NOT as expected: {what}; got {got}")
    print(f"  ok: {what}", flush=True)


def main() -> None:
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        raise SystemExit("sam-local-check needs a running Docker engine")
    stand_in = image()
    skip_pull = "--skip-pull-image" if stand_in else ""  # the stand-in exists only here
    owners = "http://127.0.0.1:8081/sandbox/owners"
    http = urllib3.PoolManager()
    serve = [sys.executable, "-m", "sandbox.serve", "--host", "0.0.0.0"]
    run(BUILD)
    with background(serve, "Ctrl-C stops everything"):
        print("$ make serve SERVE_ARGS='--host 0.0.0.0'  (running)")
        answer = json.loads(run(INVOKE_WEBHOOK, skip_pull).strip().splitlines()[-1])
        check(
            (answer["statusCode"], json.loads(answer["body"])) == (200, {"success": True}),
            "WebhookFunction answered 200",
            answer,
        )
        check(http.request("GET", owners).json()["owners"] == ["+905551234567"], "the gateway has the owner", "")
        answer = json.loads(run(INVOKE_FORWARDER, skip_pull).strip().splitlines()[-1])
        check(answer == {"batchItemFailures": []}, "ForwarderFunction handled the batch", answer)
        check("+905557654321" in http.request("GET", owners).json()["owners"], "the gateway has its owner", "")
        print(f"$ {START_API} {skip_pull}  (running)", flush=True)
        with background(f"{START_API} {skip_pull}", "Running on http://127.0.0.1:3001", shell=True):  # noqa: S604
            _wait_for_port(3001)
            body = run(CURL.replace("0555 123 45 67", "0555 123 45 99"), "-w '\\n%{http_code}'")
            check(body.splitlines() == ['{"success":true}', "200"], "start-api answered 200", body)
    sam = run("sam --version").strip()
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    print(f"sam-local-check passed: {sam}, Docker {docker.stdout.strip()}, {ARCH}" + (", stand-in image" * stand_in))


if __name__ == "__main__":
    main()
