"""The payment gateway's NewOwnerRequest: POST /owner, every outcome a typed result."""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import http.client
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from types import TracebackType
from typing import Any, NamedTuple, Self

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import Retry, Timeout, parse_url

from owner_webhook.budget import MIN_FORWARD_SECONDS


class GatewayStatus(StrEnum):
    CREATED = "created"  # any 2xx: the owner exists now
    REJECTED = "rejected"  # 400, 409, 422 and the other 4xx below: the gateway refuses this phone; final
    UNAUTHORIZED = "unauthorized"  # 401: the key is wrong (perhaps rotated)
    FORBIDDEN = "forbidden"  # 403: the key may not create owners
    MISDIRECTED = "misdirected"  # 3xx, 404, 405: the gateway's address or method is wrong; nothing created
    THROTTLED = "throttled"  # 429
    FAILED = "failed"  # 408, 5xx, or a status no row names; nothing created
    UNREACHABLE = "unreachable"  # refused, DNS, connect timeout: the request surely did not arrive
    # Neither of these two had a whole answer, nor a 2xx status line (which is enough: CREATED).
    AMBIGUOUS = "ambiguous"  # the gateway dropped or cut the connection after the request was sent: the owner may exist
    ABANDONED = "abandoned"  # we stopped waiting (read timeout, deadline): the gateway may still be working on it
    NOT_SENT = "not_sent"  # too little time was left for an answer to come back: nothing was sent
    PAUSED = "paused"  # the forwarder's pace left no turn in time (a 429/503 asked to wait): nothing was sent


# Every status the gateway may answer, by class: the first row that holds it decides (docs/answers.md has
# the same table). The gateway documents 200, 400, 401 and 403; a real HTTP service answers more.
_BY_HTTP_STATUS: tuple[tuple[Collection[int], GatewayStatus], ...] = (
    (range(200, 300), GatewayStatus.CREATED),  # 201, 202, 204 too, whatever the body (or none)
    ({HTTPStatus.UNAUTHORIZED}, GatewayStatus.UNAUTHORIZED),
    ({HTTPStatus.FORBIDDEN}, GatewayStatus.FORBIDDEN),
    ({HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED}, GatewayStatus.MISDIRECTED),  # no POST /owner there
    ({HTTPStatus.REQUEST_TIMEOUT}, GatewayStatus.FAILED),  # the gateway gave up waiting for the request
    ({HTTPStatus.TOO_MANY_REQUESTS}, GatewayStatus.THROTTLED),
    (range(300, 400), GatewayStatus.MISDIRECTED),  # a redirect is not followed: the base URL is wrong
    (range(400, 500), GatewayStatus.REJECTED),  # 400, 409, 410, 422, ...: this phone, refused for good
    (range(500, 600), GatewayStatus.FAILED),
)
# Anything else (a status outside 200-599): not an answer the gateway means, so transient, as an outage is.
_UNKNOWN_HTTP_STATUS = GatewayStatus.FAILED


def classify(http_status: int) -> GatewayStatus:
    """What the gateway's HTTP status means, by the table above."""
    return next((status for statuses, status in _BY_HTTP_STATUS if http_status in statuses), _UNKNOWN_HTTP_STATUS)


# The gateway's Retry-After, as answered to the sender: whole seconds, at least 1, at most an hour.
MAX_RETRY_AFTER = 3600
_SECONDS = re.compile(r"\s*[0-9]+(?:\.[0-9]*)?\s*")
# Failures that happen before a byte of the request is sent.
_NOT_SENT = (NewConnectionError, ConnectTimeoutError, SSLError, ProxyError)


class GatewayResult(NamedTuple):
    status: GatewayStatus
    http_status: int | None = None
    retry_after: int | None = None
    latency_ms: float = 0.0
    attempts: int = 1
    # When the request last went out (time.monotonic()), or None: nothing was sent.
    sent_at: float | None = None
    # The answer was not waited for to its end (a read timeout, the cut at the deadline), whatever its status line
    # said: the gateway may still be working on the call.
    abandoned: bool = False


class BudgetRetry(Retry):
    """urllib3's Retry, allowed to try again only while the attempt still fits before `deadline`.

    Retried: what surely never reached the gateway (refused, DNS, connect timeout), and a 429/503
    whose Retry-After leaves time for one more whole attempt. Never a request that may have arrived
    (read timeout, dropped connection): the gateway would create a second owner. A Retry-After that is
    not a number of seconds or an HTTP date is no Retry-After (never an error: the gateway is only busy).
    When it gives up, the error says how many attempts were made (`GaveUpError`).
    """

    # Not 413 as urllib3 has it: that is a refusal of the phone, final whatever its Retry-After says.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def __init__(self, *args: Any, deadline: float = float("inf"), attempt_seconds: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.attempt_seconds = attempt_seconds

    def new(self, **kw: Any) -> Self:
        return super().new(deadline=self.deadline, attempt_seconds=self.attempt_seconds, **kw)

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: urllib3.BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        try:
            if response is not None:
                wait = self.get_retry_after(response)
                if wait is None:  # a Retry-After that says nothing usable: answered as it is, not retried blind
                    raise MaxRetryError(_pool, url or "", error)
            else:
                wait = self.get_backoff_time()
            if time.monotonic() + wait + self.attempt_seconds > self.deadline:
                # For an error, urllib3 raises this; for a response (raise_on_status off), the response stands.
                raise MaxRetryError(_pool, url or "", error)
            return super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exc:  # this attempt was the last: one more than the retries before it
            raise GaveUpError(_pool, url or "", exc.reason, attempts=len(self.history) + 1) from exc.reason


class GaveUpError(MaxRetryError):
    """urllib3's MaxRetryError, with the number of attempts made (the last one included)."""

    def __init__(self, pool: Any, url: str, reason: Exception | None, attempts: int) -> None:
        super().__init__(pool, url, reason)
        self.attempts = attempts


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After's wait in seconds (a number, a fraction, or an HTTP date), or None when it is neither."""
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


@dataclass
class _Exchange:
    """One call as its connection sees it: when its answer must be over (time.monotonic()), when its request
    went out, the final answer's status once its status line is read, and whether the watchdog cut the answer."""

    answer_by: float
    sent_at: float | None = None
    status: int | None = None
    cut: bool = False


# The call the connection in use is making (create_owner sets it around its urlopen).
_EXCHANGE: contextvars.ContextVar[_Exchange | None] = contextvars.ContextVar("gateway_exchange", default=None)


class _Watchdog:
    """One thread per warm function that shuts down a connection still reading past its deadline.

    A socket timeout bounds each read, not the answer: a gateway that sends one header line every two
    seconds never trips it. Shut down, the socket ends the read at once: a call abandoned, in time.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._watched: dict[int, tuple[float, Callable[[], None]]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._wakes_at = float("inf")  # when the thread wakes next by itself

    def watch(self, deadline: float, cut: Callable[[], None]) -> int:
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gateway-watchdog", daemon=True)
                self._thread.start()
            self._next += 1
            self._watched[self._next] = (deadline, cut)
            if deadline < self._wakes_at:  # else it wakes in time anyway: no thread switch per request
                self._changed.notify()
            return self._next

    def release(self, token: int) -> None:
        with self._changed:
            self._watched.pop(token, None)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for token, (deadline, cut) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[token]
                        cut()
                soonest = min((deadline for deadline, _ in self._watched.values()), default=None)
                self._wakes_at = float("inf") if soonest is None else soonest
                self._changed.wait(None if soonest is None else max(0.0, soonest - now))


_WATCHDOG = _Watchdog()


class _CutError(ProtocolError):
    """The watchdog ended the answer at the forward's deadline: we stopped waiting, the gateway may not have."""


# http.client's limit on one line of an answer.
_MAX_LINE = 65536


class _FinalAnswer(http.client.HTTPResponse):
    """http.client's response, read past every interim answer (1xx) to the final one, whose status it notes.

    http.client skips a 100 Continue only: a 102 Processing or 103 Early Hints would be taken for the answer,
    and the final one would then wait in the kept-alive connection for the next request to read as its own.
    It takes the place of http.client's reading of one status line, which begin() calls until the answer is
    not a 100: the 1xx rows of tests/integration/test_gateway_statuses.py pin that it still does.
    """

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]
        while HTTPStatus.CONTINUE <= status < HTTPStatus.OK:
            _skip_header_lines(self.fp)
            version, status, reason = super()._read_status()  # type: ignore[misc]
        exchange = _EXCHANGE.get()
        if exchange is not None and version.startswith("HTTP/1."):  # http.client refuses any other version
            exchange.status = status
        return version, status, reason


def _skip_header_lines(answer: Any) -> None:
    """Read an interim answer's header lines, up to the blank line that ends them (or the connection's end)."""
    while True:
        line = answer.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return


class _DeadlineConnection(HTTPConnection):
    """urllib3's connection, whose answer (interim answers, status line, headers and body) ends by the call's
    `answer_by`, and which notes when each request went out."""

    response_class = _FinalAnswer

    def getresponse(self) -> Any:
        exchange = _EXCHANGE.get()
        sock = self.sock
        if exchange is None or sock is None:
            return super().getresponse()
        exchange.sent_at = time.monotonic()  # the request has just gone out: its answer is awaited from here
        exchange.status, exchange.cut = None, False

        def cut() -> None:
            exchange.cut = True
            with contextlib.suppress(OSError):  # closed meanwhile: nothing left to cut
                sock.shutdown(socket.SHUT_RDWR)

        token = _WATCHDOG.watch(exchange.answer_by, cut)
        try:
            response = super().getresponse()
        finally:
            _WATCHDOG.release(token)
        if exchange.cut:  # a cut read looks like the end of the headers or of the body: it is neither
            raise _CutError("the gateway's answer was not over by the forward's deadline")
        return response


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class GatewayClient:
    """One connection pool per warm function; `create_owner` never raises for network trouble.

    The pool is the gateway host's own (urllib3's HTTPConnectionPool), not a PoolManager: with one
    host, a PoolManager only parses the URL and looks the pool up again on every request.
    """

    def __init__(self, owner_url: str, connect_timeout: float, read_timeout: float, *, paced: bool = False) -> None:
        self._owner_path = parse_url(owner_url).request_uri
        # A 429 or 503 is tried again at once (after its short Retry-After) unless the caller paces its
        # calls: then the pause is the caller's, and a second call here would be one its pace never allowed.
        self._status_retries = 0 if paced else 1
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool = urllib3.connection_from_url(owner_url, maxsize=4)
        self._pool.ConnectionCls = _DeadlineHTTPSConnection if owner_url.startswith("https") else _DeadlineConnection

    def create_owner(self, phone: str, api_key: str, deadline: float) -> GatewayResult:
        """POST {"phone": phone} with the Bearer key; every byte of it, retries included, by `deadline` (monotonic)."""
        started = time.perf_counter()
        remaining = deadline - time.monotonic()
        if remaining < MIN_FORWARD_SECONDS:
            return GatewayResult(GatewayStatus.NOT_SENT, attempts=0)
        # The total bounds connecting and each read; the watchdog bounds the answer as a whole.
        timeout = Timeout(connect=self._connect_timeout, read=self._read_timeout, total=remaining)
        retries = BudgetRetry(
            total=4,
            connect=2,
            read=0,
            other=0,
            status=self._status_retries,
            redirect=False,
            allowed_methods=None,  # POST: read=0 still forbids repeating a request that may have arrived
            backoff_factor=0.1,
            raise_on_status=False,
            deadline=deadline,
            attempt_seconds=min(self._connect_timeout + self._read_timeout, remaining),
        )
        exchange = _Exchange(answer_by=deadline)
        token = _EXCHANGE.set(exchange)
        try:
            response = self._pool.urlopen(
                "POST",
                self._owner_path,
                body=json.dumps({"phone": phone}).encode(),
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=timeout,
                retries=retries,
                redirect=False,  # a redirect is an answer outside the contract, not a place to POST to
                decode_content=False,  # the body is read (to keep the connection) but never used: never decoded
            )
        except MaxRetryError as exc:
            attempts = exc.attempts if isinstance(exc, GaveUpError) else 1
            return _not_read_whole(exc.reason, exchange, _since(started), attempts)
        except HTTPError as exc:
            return _not_read_whole(exc, exchange, _since(started), 1)
        finally:
            _EXCHANGE.reset(token)
        return GatewayResult(
            classify(response.status),
            http_status=response.status,
            retry_after=_retry_after(response),
            latency_ms=_since(started),
            attempts=len(response.retries.history) + 1 if response.retries else 1,
            sent_at=exchange.sent_at,
        )


def _not_read_whole(error: Exception | None, exchange: _Exchange, latency_ms: float, attempts: int) -> GatewayResult:
    """An answer that did not come whole: a 2xx status line is enough (the owner exists, whatever follows);
    else no answer: never sent, sent and then dropped by the gateway, or sent and no longer waited for."""
    abandoned = exchange.cut or isinstance(error, ReadTimeoutError)
    if exchange.status is not None and classify(exchange.status) == GatewayStatus.CREATED:
        status = GatewayStatus.CREATED
    elif isinstance(error, _NOT_SENT):
        status = GatewayStatus.UNREACHABLE
    else:
        status = GatewayStatus.ABANDONED if abandoned else GatewayStatus.AMBIGUOUS
    return GatewayResult(
        status,
        http_status=exchange.status if status == GatewayStatus.CREATED else None,
        latency_ms=latency_ms,
        attempts=attempts,
        sent_at=exchange.sent_at,
        abandoned=abandoned,
    )


def _retry_after(response: urllib3.BaseHTTPResponse) -> int | None:
    """The wait to pass on to the sender for a 429/503: whole seconds, 1 to MAX_RETRY_AFTER, or None."""
    if response.status not in (429, 503):
        return None
    seconds = retry_after_seconds(response.headers.get("Retry-After"))
    return None if seconds is None else max(1, math.ceil(seconds))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
