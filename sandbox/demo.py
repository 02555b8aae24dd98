"""`make demo`: the whole local path on every event in events/, over real HTTP, as a table.

Starts the moto server (Secrets Manager), the sandbox gateway and a local endpoint in front of the
handler; sends each event's request; checks each answer against events/expected.json; stops it all.
Exits 1 if any answer differs from what is expected.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import urllib3

from sandbox.events import request_of
from sandbox.gateway import SandboxGateway
from sandbox.stack import Sandbox

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOG_FILE = Path(__file__).resolve().parent.parent / ".demo" / "function.log"


@dataclass(frozen=True)
class Row:
    event: str
    status: int
    code: str
    received: list[str]  # masked phones the gateway received, with its status
    expected: bool


def event_files() -> list[Path]:
    """Every event in events/, without env.json and expected.json."""
    return sorted(p for p in EVENTS.glob("*.json") if p.name not in ("env.json", "expected.json"))


def send_events(endpoint_url: str, gateway: SandboxGateway) -> list[Row]:
    """Send each event's HTTP request to the endpoint and compare with events/expected.json."""
    from owner_webhook.phone import mask

    expected = json.loads((EVENTS / "expected.json").read_text())
    http = urllib3.PoolManager()
    rows = []
    for path in event_files():
        request = request_of(json.loads(path.read_text()))
        before = len(gateway.received)
        query = f"?{request.query}" if request.query else ""
        response = http.request(
            request.method, f"{endpoint_url}{request.path}{query}", body=request.body, headers=dict(request.headers)
        )
        answer = json.loads(response.data)
        code = answer["error"]["code"] if "error" in answer else "owner_created"
        received = gateway.received[before:]
        want = expected.get(path.name, {})
        created = [r.phone for r in received if r.status == 200]
        ok = (response.status, code) == (want.get("status"), want.get("code"))
        ok = ok and created == ([want["owner"]] if "owner" in want else [])
        rows.append(Row(path.name, response.status, code, [f"{r.status} {mask(r.phone or '')}" for r in received], ok))
    return rows


def print_table(rows: list[Row]) -> None:
    cells = [("event", "status", "answer", "gateway received", "as expected")]
    cells += [
        (r.event, str(r.status), r.code, ", ".join(r.received) or "-", "yes" if r.expected else "NO") for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for i, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))


def main() -> int:
    from owner_webhook.handler import lambda_handler
    from owner_webhook.observability import logger

    started = time.perf_counter()
    LOG_FILE.parent.mkdir(exist_ok=True)
    with LOG_FILE.open("w") as log, Sandbox(handler=lambda_handler) as sandbox:
        handler = logger.registered_handler
        if hasattr(handler, "setStream"):
            handler.setStream(log)  # the function's JSON log lines go to a file, the table to the terminal
        assert sandbox.endpoint is not None
        rows = send_events(sandbox.endpoint.url, sandbox.gateway)
    print_table(rows)
    print(f"\n{len(rows)} events in {time.perf_counter() - started:.1f} s; the function's log lines: {LOG_FILE}")
    failures = sum(not r.expected for r in rows)
    if failures:
        print(f"{failures} answer(s) differ from events/expected.json", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
