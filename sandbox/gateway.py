"""A sandbox payment gateway on 127.0.0.1 that follows the gateway's documented contract.

POST /owner with `Authorization: Bearer <key>` and `{"phone": "+905551234567"}`:
200 {"success": true} and a new owner; 400 for a phone that is not E.164 (or is in `rejected_phones`);
401 for a wrong key; 403 for a key in `denied_keys`. Every request is recorded. Faults can be queued
for the next requests (`inject`) to play an outage, a slow answer, a dropped connection or any other
status (a 2xx fault creates the owner and answers that status, with its own body or none), or drawn
at random (`chaos`). `limit` plays a gateway with limits it does not document: 429 above a rate, slow
answers above a number of requests at once; the rate and concurrency it saw are kept (`peak_rate`,
`peak_in_flight`). Over HTTP, for `make serve`: `POST /sandbox/faults` with a JSON list of faults
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
    trickle: float = 0.0  # create the owner, then send the status line and one header line every this many s
    trickle_for: float = 0.0  # ... for this long, then the rest of the answer


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
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
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
            self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None, written: str | None = None
        ) -> None:
            payload = json.dumps(answer).encode() if written is None else written.encode()
            bodiless = status in (204, 304) or status < 200  # HTTP gives these no body, nor its length
            payload = b"" if bodiless else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if written is None else "text/plain")
            if not bodiless:
                self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

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
                    self._send(fault.status, answer, body, authorization, phone, written=fault.body)
                else:
                    self._send(status, answer, body, authorization, phone)
                return
            if fault and fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                if fault.retry_after_text is not None:
                    headers["Retry-After"] = fault.retry_after_text
                if fault.location is not None:
                    headers["Location"] = fault.location
                answer = {"success": False, "message": "sandbox fault"}
                self._send(fault.status, answer, body, authorization, phone, headers, written=fault.body)
                return
            status, answer = gateway._decide(authorization, phone)
            self._send(status, answer, body, authorization, phone)

        def _send(
            self,
            status: int,
            answer: dict[str, Any],
            body: bytes,
            authorization: str,
            phone: str | None,
            headers: dict[str, str] | None = None,
            written: str | None = None,
        ) -> None:
            gateway._record(Received(self.path, authorization, body, phone, status))
            self._reply(status, answer, headers, written)

        def _trickle(self, status: int, answer: dict[str, Any], fault: Fault) -> None:
            """A gateway that answers byte by byte: each read is quick, the answer as a whole is not."""
            payload = json.dumps(answer).encode()
            self.wfile.write(f"HTTP/1.1 {status} OK\r\n".encode())
            self.wfile.flush()
            ends = time.monotonic() + fault.trickle_for
            while time.monotonic() < ends:
                time.sleep(fault.trickle)
                self.wfile.write(b"X-Trickle: 1\r\n")
                self.wfile.flush()
            self.wfile.write(f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            self.close_connection = True

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
