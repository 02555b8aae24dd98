"""A sandbox payment gateway on 127.0.0.1 that follows the gateway's documented contract.

POST /owner with `Authorization: Bearer <key>` and `{"phone": "+905551234567"}`:
200 {"success": true} and a new owner; 400 for a phone that is not E.164 (or is in `rejected_phones`);
401 for a wrong key; 403 for a key in `denied_keys`. Every request is recorded. Faults can be queued
for the next requests (`inject`) to play an outage, a slow answer, a dropped connection, any other
status (a 2xx fault creates the owner and answers that status, with its own body or none) or an odd
shape of answer (interim answers first, many header lines, a body cut short, one that trickles), or drawn
at random (`chaos`). `limit` plays a gateway with limits it does not document: 429 above a rate, slow
answers above a number of requests at once; the rate and concurrency it saw are kept (`peak_rate`,
`peak_in_flight`). `open_late` plays a gateway whose connections open late (its accept queue full, as
under load). Over HTTP, for `make serve`: `POST /sandbox/faults` with a JSON list of faults
(`[{"status": 503, "retry_after": 30}, {"reset": true}, {"delay": 6}, {"create_first": true}]`),
`POST /sandbox/keys` with a JSON list of the keys it accepts from then on (a gateway that issued a new key, or
revoked an old one), and `GET /sandbox/owners` lists the owners created.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class Received:
    path: str
    authorization: str
    body: bytes
    phone: str | None
    status: int  # what the sandbox answered (0 when it dropped the connection)


@dataclass(frozen=True)
class Fault:
    """One planned misbehaviour: an HTTP status, a delay before answering, or a reset."""

    status: int | None = None  # any status: a 2xx creates the owner as a 200 would, and answers this instead
    body: str | None = None  # the answer's body as written ("" for none; a 204 never has one)
    retry_after: int | None = None
    delay: float = 0.0
    reset: bool = False  # close the connection with a TCP reset instead of answering
    create_first: bool = False  # create the owner, then reset: the ambiguous failure
    location: str | None = None  # a Location header, with a 3xx status
    retry_after_text: str | None = None  # a Retry-After header as written (a fraction, a date, garbage)
    trickle: float = 0.0  # create the owner, then send its answer a piece every this many s (in `trickle_in`)
    trickle_for: float = 0.0  # ... for this long, then the rest of the answer
    # Where the trickle lands: "status" (a space of the status line at a time), "headers" (a header line at a
    # time), "body" (a byte of a Content-Length body at a time) or "chunked" (a chunk of a chunked body at a time).
    trickle_in: str = "headers"
    interim: tuple[int, ...] = ()  # interim answers (1xx: 102 Processing, 103 Early Hints) sent before the answer
    after_interim: float = 0.0  # ... and the seconds between them and the answer
    header_lines: int = 0  # this many more header lines in the answer
    content_encoding: str | None = None  # a Content-Encoding header as written; the body is sent as it is
    short_body: bool = False  # a Content-Length longer than the body sent, then the connection closed


@dataclass(frozen=True)
class Ceiling:
    """Limits a gateway may have without saying so: 429 with `retry_after` to a request that makes more
    than `rate` in the last second, and `slow_seconds` more before answering for each request beyond
    `in_flight` at once (slow enough, the answer comes after the caller stopped waiting)."""

    rate: int
    in_flight: int
    retry_after: int = 1
    slow_seconds: float = 2.0


class SandboxGateway:
    def __init__(self, api_key: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.accepted_keys = {api_key}
        self.denied_keys: set[str] = set()
        self.rejected_phones: set[str] = set()
        self.received: list[Received] = []
        self.owners: list[str] = []
        self._faults: deque[Fault] = deque()
        self._chaos: tuple[float, list[Fault], random.Random] | None = None
        self._lock = threading.Condition()
        self._in_flight = 0
        self._ceiling: Ceiling | None = None
        self.arrivals: list[float] = []  # time.monotonic() of each POST /owner, in order
        self.peak_in_flight = 0  # POST /owner requests being handled at once, at most
        self._last_second: deque[float] = deque()
        self._generation = 0  # bumped by reset(): a request delayed across a reset is dropped, not recorded
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SandboxGateway:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, one each, to the next requests."""
        with self._lock:
            self._faults.extend(faults)

    def chaos(self, rate: float, faults: list[Fault], seed: int) -> None:
        """From now on, fail this share of requests with one of `faults`, drawn at random (0 stops it)."""
        with self._lock:
            self._chaos = (rate, faults, random.Random(seed)) if rate else None  # noqa: S311 - not for secrets

    def limit(self, ceiling: Ceiling | None) -> None:
        """From now on, answer as a gateway with this ceiling (None: without one)."""
        with self._lock:
            self._ceiling = ceiling

    def peak_rate(self) -> int:
        """The most POST /owner requests that arrived within one second (any window (t - 1 s, t])."""
        with self._lock:
            arrivals = list(self.arrivals)
        peak, first = 0, 0
        for last, arrived in enumerate(arrivals):
            while arrivals[first] <= arrived - 1.0:
                first += 1
            peak = max(peak, last - first + 1)
        return peak

    def open_late(self, seconds: float) -> None:
        """For the next `seconds`, open no connection: the accept queue is full, as a gateway's under load, so a
        new connection's SYN is dropped and it opens only on a later try (its connect timeout's, or TCP's own)."""
        server = self._server
        server.opens_at = time.monotonic() + seconds  # first: the server accepts nothing more until then
        server.socket.listen(0)  # a queue of one, which the first filler takes
        fillers = [socket.socket() for _ in range(2)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(server.server_address)

        def reopen() -> None:
            time.sleep(seconds)
            server.socket.listen(server.request_queue_size)
            for filler in fillers:
                filler.close()

        threading.Thread(target=reopen, name="sandbox-gateway-reopen", daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._chaos = None
            self._ceiling = None
            self.arrivals.clear()
            self._last_second.clear()
            self.peak_in_flight = 0
            self.received.clear()
            self.owners.clear()
            self._faults.clear()
            self.rejected_phones.clear()
            self.denied_keys.clear()

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until no request is being handled (a delayed answer may outlive the client's wait)."""
        with self._lock:
            self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def _arrive(self) -> Fault | None:
        """Note a POST /owner; the fault its ceiling makes of it, if any."""
        with self._lock:
            now = time.monotonic()
            self.arrivals.append(now)
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._last_second.append(now)
            while self._last_second[0] <= now - 1.0:
                self._last_second.popleft()
            ceiling = self._ceiling
            if ceiling is None:
                return None
            if len(self._last_second) > ceiling.rate:
                return Fault(status=429, retry_after=ceiling.retry_after)
            beyond = self._in_flight - ceiling.in_flight
            return Fault(delay=ceiling.slow_seconds * beyond) if beyond > 0 else None

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._chaos:
                rate, faults, rng = self._chaos
                return rng.choice(faults) if rng.random() < rate else None
            return None

    def _decide(self, authorization: str, phone: str | None) -> tuple[int, dict[str, Any]]:
        scheme, _, key = authorization.partition(" ")
        with self._lock:
            if scheme != "Bearer" or key not in self.accepted_keys | self.denied_keys:
                return 401, {"success": False, "message": "Invalid Bearer token"}
            if key in self.denied_keys:
                return 403, {"success": False, "message": "Access denied"}
            if phone is None or not _E164.match(phone) or phone in self.rejected_phones:
                return 400, {"success": False, "message": "Invalid phone format"}
            self.owners.append(phone)
            return 200, {"success": True}

    def _record(self, entry: Received) -> None:
        with self._lock:
            self.received.append(entry)


class _Server(ThreadingHTTPServer):
    opens_at = 0.0  # time.monotonic() before which no connection is accepted (open_late)

    def get_request(self) -> tuple[socket.socket, Any]:
        time.sleep(max(0.0, self.opens_at - time.monotonic()))
        return super().get_request()


def _handler_for(gateway: SandboxGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every kept-alive answer

        def do_POST(self) -> None:
            gateway._begin()
            try:
                self._owner()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: a real gateway would not notice either
            finally:
                gateway._end()

        def do_GET(self) -> None:
            if self.path != "/sandbox/owners":
                self._reply(404, {"message": "Not Found"})
                return
            with gateway._lock:
                self._reply(200, {"owners": list(gateway.owners)})

        def _control(self, body: bytes) -> None:
            try:
                faults = [Fault(**spec) for spec in json.loads(body)]
            except (ValueError, TypeError) as exc:
                self._reply(400, {"message": f"expected a JSON list of faults: {exc}"})
                return
            gateway.inject(*faults)
            self._reply(200, {"queued": len(faults)})

        def _keys(self, body: bytes) -> None:
            try:
                keys = json.loads(body)
            except ValueError:
                keys = None
            if not isinstance(keys, list) or not keys or not all(isinstance(key, str) and key for key in keys):
                self._reply(400, {"message": "expected a JSON list of the keys to accept"})
                return
            with gateway._lock:
                gateway.accepted_keys = set(keys)
            self._reply(200, {"accepted": len(keys)})

        def _reply(
            self,
            status: int,
            answer: dict[str, Any],
            headers: dict[str, str] | None = None,
            written: str | None = None,
            shape: Fault | None = None,
        ) -> None:
            """The answer, shaped as the fault says (interim answers first, more header lines, a body cut short)."""
            shape = shape or Fault()
            for interim in shape.interim:
                self.send_response_only(interim)
                self.send_header("Link", "</owner>; rel=preload")
                self.end_headers()
            if shape.interim:
                time.sleep(shape.after_interim)
            payload = json.dumps(answer).encode() if written is None else written.encode()
            bodiless = status in (204, 304) or status < 200  # HTTP gives these no body, nor its length
            payload = b"" if bodiless else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if written is None else "text/plain")
            if shape.content_encoding is not None:
                self.send_header("Content-Encoding", shape.content_encoding)
            for line in range(shape.header_lines):
                self.send_header(f"X-Sandbox-{line}", "1")
            if not bodiless:
                self.send_header("Content-Length", str(len(payload) + (100 if shape.short_body else 0)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            if shape.short_body:
                self.close_connection = True

        def _owner(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/sandbox/faults":
                self._control(body)
                return
            if self.path == "/sandbox/keys":
                self._keys(body)
                return
            authorization = self.headers.get("Authorization", "")
            phone = _phone_of(body)
            if self.path != "/owner":
                self._send(404, {"message": "Not Found"}, body, authorization, phone)
                return
            fault = gateway._arrive() or gateway._next_fault()
            if fault and fault.delay:
                generation = gateway._generation
                time.sleep(fault.delay)
                if generation != gateway._generation:  # the test that asked for the delay is over
                    self.close_connection = True
                    return
            if fault and fault.trickle:
                status, answer = gateway._decide(authorization, phone)
                gateway._record(Received(self.path, authorization, body, phone, status))
                self._trickle(status, answer, fault)
                return
            if fault and (fault.reset or fault.create_first):
                if fault.create_first:
                    gateway._decide(authorization, phone)
                gateway._record(Received(self.path, authorization, body, phone, 0))
                self._reset()
                return
            if fault and fault.status and 200 <= fault.status < 300:  # created, said another way
                status, answer = gateway._decide(authorization, phone)
                if status == 200:
                    self._send(fault.status, answer, body, authorization, phone, written=fault.body, shape=fault)
                else:
                    self._send(status, answer, body, authorization, phone, shape=fault)
                return
            if fault and fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                if fault.retry_after_text is not None:
                    headers["Retry-After"] = fault.retry_after_text
                if fault.location is not None:
                    headers["Location"] = fault.location
                answer = {"success": False, "message": "sandbox fault"}
                self._send(fault.status, answer, body, authorization, phone, headers, written=fault.body, shape=fault)
                return
            status, answer = gateway._decide(authorization, phone)
            self._send(status, answer, body, authorization, phone, shape=fault)

        def _send(
            self,
            status: int,
            answer: dict[str, Any],
            body: bytes,
            authorization: str,
            phone: str | None,
            headers: dict[str, str] | None = None,
            written: str | None = None,
            shape: Fault | None = None,
        ) -> None:
            gateway._record(Received(self.path, authorization, body, phone, status))
            self._reply(status, answer, headers, written, shape)

        def _trickle(self, status: int, answer: dict[str, Any], fault: Fault) -> None:
            """A gateway that answers a piece at a time: each read is quick, the answer as a whole is not."""
            payload = json.dumps(answer).encode()
            pieces = round(fault.trickle_for / fault.trickle)
            line, length = f"HTTP/1.1 {status} OK\r\n", f"Content-Length: {len(payload)}\r\n\r\n"
            first, piece, rest = {
                "status": ("HTTP/1.1", " ", f" {status} OK\r\n{length}"),
                "headers": (line, "X-Trickle: 1\r\n", length),
                "body": (f"{line}Content-Length: {pieces + len(payload)}\r\n\r\n", " ", ""),
                "chunked": (f"{line}Transfer-Encoding: chunked\r\n\r\n", "1\r\n \r\n", f"{len(payload):x}\r\n"),
            }[fault.trickle_in]
            end = b"\r\n0\r\n\r\n" if fault.trickle_in == "chunked" else b""
            writes = [first.encode()] + [piece.encode()] * pieces + [rest.encode() + payload + end]
            self.close_connection = True
            generation, gone = gateway._generation, False
            for number, data in enumerate(writes):
                time.sleep(fault.trickle if number else 0.0)
                if generation != gateway._generation:  # the test that asked for the trickle is over
                    return
                if not gone:
                    try:
                        self.wfile.write(data)
                    except OSError:  # the client stopped waiting: the gateway works on, as with a delay
                        gone = True

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


def _phone_of(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    phone = document.get("phone") if isinstance(document, dict) else None
    return phone if isinstance(phone, str) else None
