"""Whatever is wrong with one recipe file fails its route alone, logged once per instance; nothing a sender
sends makes a recipe's ping slow before authentication.

The promise: docs/senders.md ("Recipes").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.local_secrets import webhook_secret
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import invoke_event

Logs = Callable[[], list[dict[str, Any]]]
TOKEN = {"credential": {"token": "bearer"}, "phone": ["phone"], "retries": False}


def _recipe(**fields: Any) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps({**TOKEN, **fields}))


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


# What the adversary put in src/owner_webhook/recipes/broken.json, and the field its route names.
BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "ping that overflows": (_recipe(ping="a{4294967296}"), "ping"),
    "ping 1,000 groups deep": (_recipe(ping="(" * 1000 + "a" + ")" * 1000), "ping"),
    "ping that backtracks": (_recipe(ping="(a+)+b"), "ping"),
    "a directory": (Path.mkdir, "(file)"),
    "a link to nothing": (lambda path: path.symlink_to(path.parent / "gone.json"), "(file)"),
    "a link to an unreadable file": (lambda path: path.symlink_to("/proc/self/mem"), "(file)"),
    "a link to a device": (lambda path: path.symlink_to("/dev/zero"), "(file)"),
    "a named pipe": (lambda path: os.mkfifo(path), "(file)"),
    "not UTF-8": (_bytes(b'{"for": "\xff\xfe", "credential": {"token": "bearer"}}'), "(file)"),
    "huge": (_bytes(b"{" + b" " * 70_000 + b"}"), "(file)"),
    "nested too deeply": (_bytes(b"[" * 30_000 + b"]" * 30_000), "(file)"),
    "not JSON": (_bytes(b"{not json"), "(file)"),
    "not an object": (_bytes(b"[]"), "(recipe)"),
    "a place that cannot be read": (_recipe(phone=["a[b"]), "phone"),
}


@pytest.fixture
def recipes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty folder as the deployment's own recipes (src/owner_webhook/recipes/)."""
    from owner_webhook import sources

    folder = tmp_path / "recipes"
    folder.mkdir()
    monkeypatch.setattr(sources, "RECIPES", folder)
    return folder


def _post(source: str, body: bytes = b'{"phone": "0555 123 45 67"}', **headers: str) -> Any:
    request = HttpRequest("POST", f"/webhooks/{source}", body, {"content-type": "application/json", **headers})
    return invoke_event(http_api_event(request))


def _invalid_lines(logs: Logs) -> list[dict[str, Any]]:
    return [line for line in logs() if line["message"].startswith("recipe invalid")]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_recipe_file_fails_its_route_alone_and_is_logged_once(
    sandbox: Sandbox, recipes: Path, logs: Logs, case: str
) -> None:
    make, field = BROKEN[case]
    make(recipes / "broken.json")
    for _ in range(2):
        answer = _post("broken", authorization=f"Bearer {webhook_secret('broken')}")
        assert (answer.status, answer.code) == (503, "invalid_setting")
        assert answer.body["error"]["message"].startswith(f"the recipe broken is invalid: {field}")
        assert "Retry-After" in answer.headers
    for source in ("zapier", "tally", "woocommerce"):  # every other sender keeps working
        assert invoke_event(http_api_event(senders.request(source, f"0555 123 45 {len(source):02d}"))).status == 200
    assert len(sandbox.gateway.owners) == 3
    [line] = _invalid_lines(logs)  # once for this instance, not once per request or per reader
    assert (line["recipe"], line["field"]) == ("broken", field)


def test_a_file_whose_name_is_no_route_is_ignored_and_logged_once(sandbox: Sandbox, recipes: Path, logs: Logs) -> None:
    _recipe()(recipes / "Sign Up.json")
    for _ in range(2):
        assert _post("sign-up").code == "unknown_source"
        assert invoke_event(http_api_event(senders.request("zapier"))).status == 200
    [line] = [line for line in logs() if line["message"].startswith("recipe file ignored")]
    assert line["file"] == "Sign Up.json"


def test_the_function_loads_with_a_directory_and_a_dangling_link_among_its_recipes(tmp_path: Path) -> None:
    # As bundled: the package with its recipes folder, imported by a fresh interpreter as Lambda does.
    package = tmp_path / "owner_webhook"
    shutil.copytree(ROOT / "src" / "owner_webhook", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "recipes" / "folder.json").mkdir()
    (package / "recipes" / "gone.json").symlink_to(tmp_path / "nothing.json")
    probe = (
        "import owner_webhook.handler, owner_webhook.forwarder; from owner_webhook.sources import NAMES; print(NAMES)"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'folder', 'gone'" in done.stdout  # each a route that answers invalid_setting, as above


def test_the_forwarder_drains_other_senders_beside_a_broken_recipe(
    sandbox: Sandbox, recipes: Path, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from owner_webhook import sources, wiring
    from owner_webhook.forwarder import lambda_handler as forwarder

    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    BROKEN["ping that overflows"][0](recipes / "broken.json")
    sandbox.gateway.inject(Fault(status=503, retry_after=30))
    assert invoke_event(http_api_event(senders.request("zapier"))).body == {"success": True, "queued": True}
    wiring.parts.cache_clear()  # the forwarder is a function of its own, with its own instance: it starts cold
    sources.load.cache_clear()
    assert queue.drain(sandbox.aws, sandbox.queue_url, forwarder) == 1
    assert sandbox.gateway.owners == ["+905551234567"]
    assert [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"] == ["drained"]
    assert [line["recipe"] for line in _invalid_lines(logs)] == ["broken", "broken"]  # the webhook's, the forwarder's


def test_a_backtracking_ping_never_runs_before_authentication(sandbox: Sandbox, recipes: Path) -> None:
    # The adversary's: a pattern that takes 2 s on 27 bytes and 33 s on 31, before any credential is checked.
    _recipe(ping="(a+)+b")(recipes / "slow.json")
    answer = _post("slow", b"a" * 27)
    assert (answer.status, answer.code) == (503, "invalid_setting")
    assert "ping" in answer.body["error"]["message"]


def test_woocommerces_ping_is_answered_200_ignored_and_forwarded_nowhere(sandbox: Sandbox) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    answer = invoke_event(http_api_event(HttpRequest("POST", "/webhooks/woocommerce", b"webhook_id=3", form)))
    assert (answer.status, answer.body) == (200, {"success": True, "ignored": True})
    for not_a_ping in (b"webhook_id=3&phone=05551234567", b"webhook_id=" + b"1" * 21, b"a" * 31 + b"!"):
        request = HttpRequest("POST", "/webhooks/woocommerce", not_a_ping, form)
        assert invoke_event(http_api_event(request)).code == "unauthenticated"
    assert sandbox.gateway.received == []
