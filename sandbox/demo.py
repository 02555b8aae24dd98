"""`make demo`: the whole local path on every event in events/, over real HTTP, as a table.

Starts the moto server (Secrets Manager), the sandbox gateway and a local endpoint in front of the
handler; sends each event's request; checks each answer against events/expected.json; stops it all.
Exits 1 if any answer differs from what is expected.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import urllib3

from sandbox.events import request_of
from sandbox.gateway import Received
from sandbox.stack import Sandbox

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOG_FILE = Path(__file__).resolve().parent.parent / ".demo" / "function.log"


def event_files() -> list[Path]:
    """Every event in events/, without env.json and expected.json."""
    return sorted(p for p in EVENTS.glob("*.json") if p.name not in ("env.json", "expected.json"))


def masked(received: list[Received]) -> str:
    from owner_webhook.phone import mask

    return ", ".join(f"{r.status} {mask(r.phone or '?')}" for r in received) or "-"


def main() -> int:
    from owner_webhook.handler import lambda_handler
    from owner_webhook.observability import logger

    LOG_FILE.parent.mkdir(exist_ok=True)
    log = LOG_FILE.open("w")
    handler = logger.registered_handler
    if hasattr(handler, "setStream"):
        handler.setStream(log)  # the function's JSON log lines go to a file, the table to the terminal
    expected: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())
    started = time.perf_counter()
    failures = 0
    with Sandbox(handler=lambda_handler) as sandbox:
        assert sandbox.endpoint is not None
        http = urllib3.PoolManager()
        rows = [("event", "status", "answer", "gateway received", "as expected")]
        for path in event_files():
            request = request_of(json.loads(path.read_text()))
            before = len(sandbox.gateway.received)
            response = http.request(
                request.method,
                f"{sandbox.endpoint.url}{request.path}" + (f"?{request.query}" if request.query else ""),
                body=request.body,
                headers=dict(request.headers),
            )
            answer = json.loads(response.data)
            code = answer.get("error", {}).get("code", "owner_created" if answer.get("success") else "?")
            received = sandbox.gateway.received[before:]
            want = expected.get(path.name, {})
            ok = response.status == want.get("status") and code == want.get("code")
            ok = ok and [r.phone for r in received if r.status == 200] == ([want["owner"]] if "owner" in want else [])
            failures += not ok
            rows.append((path.name, str(response.status), code, masked(received), "yes" if ok else "NO"))
    log.close()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * width for width in widths))
    print(f"\n{len(rows) - 1} events in {time.perf_counter() - started:.1f} s; function logs: {LOG_FILE}")
    if failures:
        print(f"{failures} answer(s) differ from events/expected.json", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
