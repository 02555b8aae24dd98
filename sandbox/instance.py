"""One more function instance in its own process, for tests of two instances racing on one delivery.

Reads the function's environment (the parent sandbox's) and serves the handler on 127.0.0.1; prints
its URL on the first line of standard output, then runs until it is terminated.
"""

from __future__ import annotations

import signal
import sys
import threading

from sandbox.endpoint import LocalEndpoint
from sandbox.parent import exit_with_parent


def main() -> None:
    exit_with_parent()
    from owner_webhook.handler import lambda_handler

    endpoint = LocalEndpoint(lambda_handler).start()
    print(endpoint.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    endpoint.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
