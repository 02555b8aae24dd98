"""docs/backends.md: its secret command and its Python and Node programs, run as written, against the function."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.aws import LOCAL_SECRET
from sandbox.endpoint import LocalEndpoint
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "backends.md").read_text()
_BLOCK = re.compile(r"^```(?P<language>\w+)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCKS = [(found["language"], found["code"]) for found in _BLOCK.finditer(DOC)]
PROGRAMS = {"python": "send_signup.py", "js": "send_signup.mjs"}
NODE = shutil.which("node")


def block(language: str) -> str:
    (code,) = [code for lang, code in BLOCKS if lang == language]
    return code


def new_secret() -> str:
    """The doc's command for a whsec_ secret, run as a shell would."""
    command = block("sh").strip()
    return subprocess.run(command, shell=True, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S602


@pytest.fixture
def endpoint(sandbox: Sandbox) -> Iterator[str]:
    """The function behind a local HTTP endpoint, as `make serve` runs it."""
    from owner_webhook.handler import lambda_handler

    running = LocalEndpoint(lambda_handler).start()
    yield running.url + "/webhooks/generic"
    running.stop()


@pytest.fixture
def secret(sandbox: Sandbox) -> str:
    value = new_secret()
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "generic": value}})
    return value


def run(language: str, phone: str, url: str, secret: str, tmp_path: Path, **env: str) -> tuple[int, dict[str, object]]:
    program = tmp_path / PROGRAMS[language]
    program.write_text(block(language))
    interpreter = sys.executable if language == "python" else NODE
    assert interpreter is not None, "node is needed for the Node example (Node.js 18 or later)"
    environment = {**os.environ, "OWNER_WEBHOOK_URL": url, "OWNER_WEBHOOK_SECRET": secret, **env}
    done = subprocess.run(
        [interpreter, str(program), phone], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_the_secret_command_makes_a_whsec_key_of_32_bytes() -> None:
    import base64

    value = new_secret()
    assert value.startswith("whsec_")
    assert len(base64.b64decode(value.removeprefix("whsec_"))) == 32


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_example_creates_the_owner(
    sandbox: Sandbox, endpoint: str, secret: str, tmp_path: Path, language: str
) -> None:
    # A zone far from UTC: the timestamp must not depend on it.
    status, answer = run(language, "0555 123 45 67", endpoint, secret, tmp_path, TZ="Pacific/Kiritimati")
    assert (status, answer) == (0, {"success": True})
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_example_retries_a_503_after_its_retry_after(
    sandbox: Sandbox, endpoint: str, secret: str, tmp_path: Path, language: str
) -> None:
    sandbox.gateway.inject(Fault(status=503, retry_after=1))
    status, answer = run(language, "+90 555 123 45 68", endpoint, secret, tmp_path, OWNER_WEBHOOK_MAX_WAIT="2")
    assert (status, answer) == (0, {"success": True})
    assert [r.status for r in sandbox.gateway.received] == [503, 200]
    assert sandbox.gateway.owners == ["+905551234568"]


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_example_stops_at_a_final_refusal(
    sandbox: Sandbox, endpoint: str, secret: str, tmp_path: Path, language: str
) -> None:
    status, answer = run(language, "+90 555", endpoint, secret, tmp_path)
    assert status == 1
    assert answer["error"]["code"] == "invalid_phone"  # type: ignore[index]
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("language", ["python", "js"])
def test_another_secret_is_refused(sandbox: Sandbox, endpoint: str, secret: str, tmp_path: Path, language: str) -> None:
    status, answer = run(language, "+90 555 123 45 69", endpoint, new_secret(), tmp_path)
    assert status == 1
    assert answer["error"]["code"] == "unauthenticated"  # type: ignore[index]
    assert sandbox.gateway.received == []
