"""The stand-ins alone, in their own process (for the benchmark: they do not share its interpreter).

Prints one JSON line with the function's environment, then serves until terminated.
"""

from __future__ import annotations

import json
import signal
import threading

from sandbox.parent import exit_with_parent
from sandbox.stack import Sandbox


def main() -> None:
    exit_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox(queue=True) as sandbox:  # as deployed: deduplication and the retry queue configured
        print(json.dumps(sandbox.environment()), flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
