"""The moto server of sandbox/aws.py in a process of its own, for the burst soak of `make bench`: its
work does not share the interpreter (and its lock) that runs the senders and times the gateway's
arrivals. `python -m sandbox.aws_process` prints the server's URL, then serves until terminated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from sandbox.aws import LocalAws
from sandbox.parent import exit_with_parent

ROOT = Path(__file__).resolve().parent.parent


class SeparateAws(LocalAws):
    """LocalAws whose server runs in a child process. Its calls go over HTTP as before; what only the
    in-process server can do (counting calls, failing them on purpose) is not available."""

    def __init__(self) -> None:  # the server is the child's: LocalAws.__init__ would bind one here
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.aws_process"], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError("the moto server's process did not start")

    def start(self) -> SeparateAws:
        return self

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


def main() -> None:
    exit_with_parent()
    aws = LocalAws().start()
    print(aws.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    aws.stop()


if __name__ == "__main__":
    main()
