"""A local HTTP endpoint that turns each request into an HTTP API 2.0 event and calls the handler."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.events import HttpRequest, LocalContext, http_api_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalEndpoint:
    """Like API Gateway in front of one function instance: requests are handled one at a time."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._instance = threading.Lock()  # one Lambda instance handles one event at a time
        self._server = ThreadingHTTPServer((host, port), _request_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="endpoint", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def instance(self) -> threading.Lock:
        """Held while something else uses this process's function state (the forwarder of make serve)."""
        return self._instance

    def invoke(self, request: HttpRequest, source_ip: str) -> dict[str, Any]:
        event = http_api_event(request, source_ip)
        with self._instance:
            return self._handler(event, LocalContext())


def _request_handler(endpoint: LocalEndpoint) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every kept-alive answer

        def _any(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = HttpRequest(self.command, path, body, dict(self.headers.items()), query)
            result = endpoint.invoke(request, self.client_address[0])
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self.send_response(int(result.get("statusCode", 200)))
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return RequestHandler
