"""The instructions a warm request takes, which do not move with the machine's load as times do: the floor, the
lean floor, the library floor and the adapter, each under valgrind's callgrind. `python -m bench.instructions`
(in `make bench` when valgrind is installed); prints a table and one JSON line.

A request's count: a fresh interpreter answering BASE + EXTRA requests, less the same answering BASE, divided by
EXTRA (bench/probe.py's `count`); so the interpreter's start, the imports, the warm-up and the reading of the
events (the same file in both) cancel out. Runs of the same count agree within 0.01 M instructions a request.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import run
from bench.table import print_table

KINDS = {"floor": False, "floor-lean": False, "library-floor": True, "adapter": True}  # kind: runs the artifact
BASE = 60  # the warm-up: clients built, the secret cached, the connection open
EXTRA = 200
_REFS = re.compile(r"I\s+refs:\s+([0-9,]+)")


def instructions(valgrind: str, kind: str, events: Path, requests: int, env: dict[str, str], artifact: bool) -> int:
    """All the instructions of a fresh interpreter that answers the first `requests` of `events` with the probe `kind`."""
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", str(run.runtime_python()),
         "-m", "bench.probe", "count", kind, str(events), str(requests)],
        env=run._env(env, artifact=artifact), cwd=run.ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind of {kind} failed:\n{done.stderr[-2000:]}")
    statuses = json.loads(done.stdout.strip().splitlines()[-1])["statuses"]
    if statuses != {"200": requests}:  # a request that failed would be counted as a cheap one
        raise SystemExit(f"{kind} did not answer each of its {requests} requests with 200: {statuses}")
    return int(found[1].replace(",", ""))


def per_request(valgrind: str, env: dict[str, str]) -> dict[str, float]:
    """Millions of instructions per warm request, for each kind."""
    variables = {**env, "IDEMPOTENCY_TABLE": ""}  # the targets' measure: no deduplication
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.json"
        events.write_text(json.dumps([run._event() for _ in range(BASE + EXTRA)]))
        for kind, artifact in KINDS.items():
            whole = instructions(valgrind, kind, events, BASE + EXTRA, variables, artifact)
            base = instructions(valgrind, kind, events, BASE, variables, artifact)
            figures[kind] = (whole - base) / EXTRA / 1e6
    return figures


def main() -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions: not counted, valgrind is not installed (apt-get install valgrind)")
        return
    with run.standins() as env:
        figures = per_request(valgrind, env)
    floor = figures["floor"]
    rows = [("warm request", "instructions", "")]
    rows += [(kind, f"{count:.2f} M", f"{count / floor:.2f}x the floor") for kind, count in figures.items()]
    print_table(rows)
    print(json.dumps({"instructions_m": figures}))


if __name__ == "__main__":
    main()
