"""A local HTTP endpoint that turns each request into an HTTP API 2.0 event and calls the handler; and, for the
tools that invoke a function (`make replay-refused`), Lambda's Invoke API for the functions it is given:

    POST /2015-03-31/functions/{name}/invocations   200 + the function's result as JSON; 404
                                                    ResourceNotFoundException for another name
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.events import HttpRequest, LocalContext, http_api_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class LocalEndpoint:
    """Like API Gateway in front of one function instance: requests are handled one at a time. With
    `one_at_a_time=False`, the handler takes requests at once (make serve's: each on an instance of its own,
    sandbox/serve.py), and only the functions of the Invoke API share this process's instance."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        functions: Mapping[str, Handler] | None = None,
        *,
        one_at_a_time: bool = True,
    ) -> None:
        self._handler = handler
        self._one_at_a_time = one_at_a_time
        self._functions = dict(functions or {})  # by name: what the Invoke API reaches
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
        if not self._one_at_a_time:
            return self._handler(event, LocalContext())
        with self._instance:
            return self._handler(event, LocalContext())

    def invoke_function(self, name: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        """Lambda's Invoke API (RequestResponse) for a function of this process: status, headers, payload."""
        function = self._functions.get(name)
        if function is None:
            error = {"Type": "User", "message": f"Function not found: {name}"}
            return 404, {"X-Amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(error).encode()
        with self._instance:
            try:
                result = function(json.loads(payload or b"{}"), LocalContext(timeout_seconds=60))
            except Exception as error:  # what Lambda answers for a function that raised
                failure = {"errorMessage": str(error), "errorType": type(error).__name__}
                return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(failure).encode()
        return 200, {}, json.dumps(result).encode()


def _request_handler(endpoint: LocalEndpoint) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every kept-alive answer

        def _any(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            invoked = _INVOKE.match(path)
            if invoked and self.command == "POST":
                status, headers, data = endpoint.invoke_function(invoked["name"], body)
                self._send(status, {"Content-Type": "application/json", **headers}, data)
                return
            request = HttpRequest(self.command, path, body, dict(self.headers.items()), query)
            result = endpoint.invoke(request, self.client_address[0])
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self._send(int(result.get("statusCode", 200)), result.get("headers") or {}, data)

        def _send(self, status: int, headers: Mapping[str, Any], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return RequestHandler
