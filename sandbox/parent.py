"""A child process of the sandbox ends with the process that started it, even one killed with SIGKILL, which
leaves it no chance to stop its children: `make serve`'s function instances, the moto server's own process."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(interval: float = 0.5) -> None:
    """End this process (at once, as a killed one ends) within `interval` seconds of its parent's end."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
