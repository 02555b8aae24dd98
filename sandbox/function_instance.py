"""One Lambda execution environment in its own process, for the Lambda stand-in (sandbox/lambda_service.py).

`python -m sandbox.function_instance module:function NAME MEMORY_MB` imports the handler (the INIT phase),
serves POST /invoke on 127.0.0.1 (the event as JSON; X-Timeout-Seconds: the invocation's time) one event
at a time, and prints its URL on the first line of standard output; the function's log lines follow on
standard output. The answer is the handler's result as JSON; when the handler raised, it is
{"errorMessage", "errorType"} with X-Function-Error: Unhandled, as Lambda reports a function error.
X-Duration-Ms is the handler's own duration (what Lambda bills). Runs until it is terminated.

Locally, the instance also takes `X-Sandbox-Generation`: a value other than the last one it saw forgets what the
function built (`new_instance`) before the event, as a new instance would, so that a running `make serve` reads
a changed recipe; and `SANDBOX_RECIPES` in its environment names the folder of the recipes of your own.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from sandbox.events import LocalContext
from sandbox.parent import exit_with_parent

Handler = Callable[[Any, Any], Any]


def new_instance() -> None:
    """Forget what this process's functions built (their parts, the recipes read): as a new instance, or a new
    version deployed with a changed recipe, starts."""
    from owner_webhook import sources, wiring

    wiring.parts.cache_clear()
    sources.load.cache_clear()


def read_recipes_from(folder: str | None) -> None:
    """The recipes of your own from `folder` instead of the bundled ones (make serve's --recipes)."""
    if folder:
        from pathlib import Path

        from owner_webhook import sources

        sources.RECIPES = Path(folder)


def load(spec: str) -> Handler:
    """The handler named `module:function` (or `module.function`, as Lambda's Handler setting writes it)."""
    module, _, name = spec.rpartition(":") if ":" in spec else spec.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def _request_handler(handler: Handler, function_name: str, memory_mb: int) -> type[BaseHTTPRequestHandler]:
    generation = [""]  # the last X-Sandbox-Generation seen

    class Invocation(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every kept-alive answer

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            told = self.headers.get("X-Sandbox-Generation") or ""
            if told != generation[0]:
                generation[0] = told
                new_instance()
            timeout = float(self.headers.get("X-Timeout-Seconds") or 3)
            context = LocalContext(timeout_seconds=timeout, function_name=function_name, memory_limit_in_mb=memory_mb)
            headers = {"Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                payload = json.dumps(handler(json.loads(body), context)).encode()
            except Exception as error:  # Lambda reports any error of the handler as a function error
                payload = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}).encode()
                headers["X-Function-Error"] = "Unhandled"
            headers["X-Duration-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            sys.stdout.flush()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Invocation


def main() -> None:
    spec, function_name, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    exit_with_parent()
    read_recipes_from(os.environ.get("SANDBOX_RECIPES"))
    handler = load(spec)
    server = HTTPServer(("127.0.0.1", 0), _request_handler(handler, function_name, memory_mb))
    host, port = server.server_address[:2]
    print(f"http://{host!s}:{port}", flush=True)
    server.serve_forever()  # until SIGTERM ends the process, as Lambda ends an environment


if __name__ == "__main__":
    main()
