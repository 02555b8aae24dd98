"""`make serve` as a person uses it, over its own endpoint: its banner names every route's local secret and a
`make send` line for it; it takes requests at once (two deliveries of one phone: one owner and a 409); a recipe
added while it runs is served, with its local secret, and the owners, table and queue stay; `make local-secret`
rotates a webhook secret or the gateway key, used from the next request.

The promise: docs/local.md ("make serve") and docs/senders.md ("Wire a sender locally").
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3

from sandbox import local_secrets, senders
from sandbox.events import HttpRequest
from tests.conftest import ROOT
from tests.integration.test_event_filter import CAL_COM  # the docs' Cal.com recipe

MAKE = shutil.which("make")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    url: str  # the endpoint
    aws: str  # the moto server
    gateway: str
    recipes: Path
    lines: list[str] = field(default_factory=list)  # what it printed so far

    def post(self, request: HttpRequest) -> tuple[int, dict[str, Any]]:
        target = self.url + request.path + (f"?{request.query}" if request.query else "")
        response = urllib3.request("POST", target, body=request.body, headers=dict(request.headers), timeout=30)
        return response.status, json.loads(response.data)

    def owners(self) -> list[str]:
        found: list[str] = urllib3.request("GET", f"{self.gateway}/sandbox/owners").json()["owners"]
        return found

    def control(self, path: str, document: Any) -> None:
        assert urllib3.request("POST", f"{self.gateway}{path}", body=json.dumps(document)).status == 200

    def printed(self, wanted: Callable[[str], bool], seconds: float = 10) -> str:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            found = [line for line in list(self.lines) if wanted(line)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError("make serve did not say it:\n" + "\n".join(self.lines[-20:]))

    def make(self, *values: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        assert MAKE is not None
        environment = {**os.environ, "URL": f"{self.url}/webhooks/", "ENDPOINT": self.aws, **(env or {})}
        return subprocess.run(
            [MAKE, "--no-print-directory", *values],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`make serve` on free ports, two instances, with a folder of recipes of its own."""
    assert MAKE is not None
    recipes = tmp_path_factory.mktemp("recipes")
    port, aws_port, gateway_port = _free_port(), _free_port(), _free_port()
    args = f"--port {port} --aws-port {aws_port} --gateway-port {gateway_port} --instances 2"
    process = subprocess.Popen(
        [MAKE, "--no-print-directory", "serve", f"SERVE_ARGS={args}", f"RECIPES={recipes}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped below by its id, with what it started
    )
    running = Served(
        f"http://127.0.0.1:{port}", f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{gateway_port}", recipes
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        running.printed(lambda line: "Ctrl-C stops everything" in line, seconds=120)
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def test_the_banner_names_every_route_with_its_local_secret_and_a_send_line(served: Served) -> None:
    for name in senders.SOURCES:
        secret = local_secrets.webhook_secret(name)
        line = served.printed(lambda text, name=name: text.startswith(f"  {name} "))
        command = ["make", "send", f"SOURCE={name}", f"URL={served.url}/webhooks/", f"RECIPES={served.recipes}"]
        assert line.split() == [name, secret, *command]


def test_two_deliveries_of_one_phone_at_once_make_one_owner_and_a_409(served: Served) -> None:
    phone = "0555 300 00 01"
    served.control("/sandbox/faults", [{"delay": 2}])  # the first forward is still on its way when the second comes
    requests = [senders.request("shopify", phone, delivery_id=f"race-{n}") for n in (1, 2)]
    answers: list[tuple[int, dict[str, Any]]] = []
    threads = [threading.Thread(target=lambda r=r: answers.append(served.post(r))) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(status for status, _ in answers) == [200, 409]
    assert {body.get("error", {}).get("code") for _, body in answers} == {None, "in_progress"}
    assert served.owners().count("+905553000001") == 1


def test_a_recipe_added_while_it_runs_is_served_and_the_state_stays(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from owner_webhook import sources

    monkeypatch.setattr(sources, "RECIPES", served.recipes)  # this test signs as the recipe says, too
    before = served.owners()
    (served.recipes / "bookings.json").write_text(json.dumps(CAL_COM))
    said = served.printed(lambda line: line.startswith("recipe bookings.json added"))
    command = f"make send SOURCE=bookings URL={served.url}/webhooks/ RECIPES={served.recipes}"
    assert said.endswith(f"local secret {local_secrets.webhook_secret('bookings')}: {command}")
    sent = served.make(*shlex.split(command)[1:])  # the line as make serve printed it
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.splitlines()[-1] == '200 {"success":true}'
    assert served.owners()[: len(before)] == before  # what it knew stays
    # A delivery of the new route queued while the gateway fails is forwarded by the forwarder, which knows it.
    served.control("/sandbox/faults", [{"status": 503}])
    booking = HttpRequest(
        "POST",
        "/webhooks/bookings",
        json.dumps(
            {
                "triggerEvent": "BOOKING_CREATED",
                "payload": {"uid": "q-1", "attendees": [{"phoneNumber": "0555 300 00 02"}]},
            }
        ).encode(),
        {"content-type": "application/json"},
    )
    assert served.post(senders.sign("bookings", booking, local_secrets.webhook_secret("bookings"))) == (
        200,
        {"success": True, "queued": True},
    )
    ends = time.monotonic() + 20
    while "+905553000002" not in served.owners() and time.monotonic() < ends:
        time.sleep(0.5)
    assert "+905553000002" in served.owners()


def test_make_local_secret_rotates_a_webhook_secret_and_the_gateway_key(served: Served) -> None:
    old, new = local_secrets.webhook_secret("tally"), "a-new-tally-secret"

    def sent(secret: str, phone: str) -> tuple[int, dict[str, Any]]:
        return served.post(senders.request("tally", phone, secret=secret))

    rotated = served.make("local-secret", "SOURCE=tally", "KEEP_OLD=1", env={"SECRET": new})
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("webhook_secrets.tally: a new secret, beside 1 kept in owner-webhook/local")
    assert new not in rotated.stdout + rotated.stderr
    assert sent(new, "0555 300 00 03")[0] == sent(old, "0555 300 00 04")[0] == 200  # either, at once
    assert served.make("local-secret", "SOURCE=tally", env={"SECRET": new}).returncode == 0
    assert sent(old, "0555 300 00 05")[0] == 401
    assert sent(new, "0555 300 00 05")[0] == 200
    held = served.make("local-secret")
    assert "  webhook_secrets.tally: 1 secret" in held.stdout.splitlines() and new not in held.stdout
    # The gateway issues a new key and takes only it: deliveries wait in the queue until the secret has it.
    served.control("/sandbox/keys", ["a-new-gateway-key"])
    assert sent(new, "0555 300 00 06") == (200, {"success": True, "queued": True})
    assert served.make("local-secret", env={"API_KEY": "a-new-gateway-key"}).returncode == 0
    assert sent(new, "0555 300 00 07") == (200, {"success": True})
    served.control("/sandbox/keys", [local_secrets.GATEWAY_KEY, "a-new-gateway-key"])


DOC = (ROOT / "docs" / "senders.md").read_text()
WIRING = DOC[DOC.index("## Wire a sender locally") : DOC.index("## Typeform")]


def _blocks(section: str, kind: str) -> list[str]:
    """The fenced blocks of this kind ("" for none), in order."""
    found, inside, lines = [], None, []
    for line in section.splitlines():
        if line.startswith("```") and inside is None:
            inside, lines = line[3:].strip(), []
        elif line.startswith("```"):
            if inside == kind:
                found.append("\n".join(lines))
            inside = None
        elif inside is not None:
            lines.append(line)
    return found


@pytest.mark.parametrize("sender", ["### Shopify, locally", "### Cal.com, a recipe of your own, locally"])
def test_the_docs_lines_run_as_written(served: Served, sender: str) -> None:
    section = WIRING[WIRING.index(sender) :].split("\n### ")[0]
    if "Cal.com" in sender:  # saved as the docs say, in the folder make serve watches
        recipe = DOC[DOC.index("### Events and indexes: a Cal.com recipe") :]
        (served.recipes / "cal-com.json").write_text(_blocks(recipe, "json")[0])
        said = re.search(r"it says `(recipe cal-com.json added: .*?)`", " ".join(section.split()))
        assert said
        served.printed(lambda line: line.startswith(said[1]))
    lines = [line for line in _blocks(section, "sh")[0].splitlines() if line.startswith("make ")]
    assert len(lines) == 3
    printed = []
    for line in lines:
        done = served.make(*shlex.split(line)[1:], env={"RECIPES": str(served.recipes)})
        assert done.returncode == 0, line + "\n" + done.stdout + done.stderr
        printed += done.stdout.splitlines()
    shown = [line.replace("http://127.0.0.1:3000", served.url) for line in _blocks(section, "")[0].splitlines()]
    assert [line for line in shown if line.strip() not in ("", "...") and line not in printed] == []
