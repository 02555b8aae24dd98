"""The payment gateway's NewOwnerRequest: POST /owner, every outcome a typed result."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError, ProxyError, SSLError
from urllib3.util import Retry, Timeout, parse_url

from owner_webhook.observability import subsegment


class GatewayStatus(StrEnum):
    CREATED = "created"  # 200: the owner exists now
    REJECTED = "rejected"  # 400: the gateway refuses this phone; final
    UNAUTHORIZED = "unauthorized"  # 401: the key is wrong (perhaps rotated)
    FORBIDDEN = "forbidden"  # 403: the key may not create owners
    THROTTLED = "throttled"  # 429
    FAILED = "failed"  # 5xx or an answer outside the contract; nothing created
    UNREACHABLE = "unreachable"  # refused, DNS, connect timeout: the request surely did not arrive
    AMBIGUOUS = "ambiguous"  # read timeout or dropped connection: the owner may exist
    NO_TIME = "no_time"  # not sent: too little time was left for an answer to come back


_BY_HTTP_STATUS = {
    200: GatewayStatus.CREATED,
    400: GatewayStatus.REJECTED,
    401: GatewayStatus.UNAUTHORIZED,
    403: GatewayStatus.FORBIDDEN,
    429: GatewayStatus.THROTTLED,
}
# Under this, a request is not sent: a timeout that short would make an ambiguous failure of a healthy call.
MIN_SEND_SECONDS = 0.5
# Failures that happen before a byte of the request is sent.
_NOT_SENT = (NewConnectionError, ConnectTimeoutError, SSLError, ProxyError)


@dataclass(frozen=True)
class GatewayResult:
    status: GatewayStatus
    http_status: int | None = None
    retry_after: int | None = None
    latency_ms: float = 0.0
    attempts: int = 1


class BudgetRetry(Retry):
    """urllib3's Retry, allowed to try again only while the attempt still fits before `deadline`.

    Retried: what surely never reached the gateway (refused, DNS, connect timeout), and a 429/503
    whose Retry-After leaves time for one more whole attempt. Never a request that may have arrived
    (read timeout, dropped connection): the gateway would create a second owner.
    """

    def __init__(self, *args: Any, deadline: float = float("inf"), attempt_seconds: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.attempt_seconds = attempt_seconds

    def new(self, **kw: Any) -> Self:
        return super().new(deadline=self.deadline, attempt_seconds=self.attempt_seconds, **kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: urllib3.BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        wait = (self.get_retry_after(response) or 0.0) if response is not None else self.get_backoff_time()
        if time.monotonic() + wait + self.attempt_seconds > self.deadline:
            # For an error, urllib3 raises this; for a response (raise_on_status off), the response stands.
            raise MaxRetryError(_pool, url or "", error)
        return super().increment(method, url, response, error, _pool, _stacktrace)


class GatewayClient:
    """One connection pool per warm function; `create_owner` never raises for network trouble.

    The pool is the gateway host's own (urllib3's HTTPConnectionPool), not a PoolManager: with one
    host, a PoolManager only parses the URL and looks the pool up again on every request.
    """

    def __init__(self, owner_url: str, connect_timeout: float, read_timeout: float) -> None:
        self._owner_path = parse_url(owner_url).request_uri
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self._pool = urllib3.connection_from_url(owner_url, maxsize=4)

    def create_owner(self, phone: str, api_key: str, deadline: float) -> GatewayResult:
        """POST {"phone": phone} with the Bearer key, retrying only within `deadline` (monotonic)."""
        started = time.perf_counter()
        remaining = deadline - time.monotonic()
        if remaining < MIN_SEND_SECONDS:
            return GatewayResult(GatewayStatus.NO_TIME, attempts=0)
        timeout = self._timeout
        if remaining < self._connect_timeout + self._read_timeout:  # the whole attempt must end in time
            timeout = Timeout(connect=self._connect_timeout, read=self._read_timeout, total=remaining)
        retries = BudgetRetry(
            total=4,
            connect=2,
            read=0,
            other=0,
            status=1,
            redirect=False,
            allowed_methods=None,  # POST: read=0 still forbids repeating a request that may have arrived
            backoff_factor=0.1,
            raise_on_status=False,
            deadline=deadline,
            attempt_seconds=self._connect_timeout + self._read_timeout,
        )
        try:
            with subsegment("gateway"):
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
                )
        except MaxRetryError as exc:
            return GatewayResult(_classify_error(exc.reason), latency_ms=_since(started))
        except HTTPError as exc:
            return GatewayResult(_classify_error(exc), latency_ms=_since(started))
        status = _BY_HTTP_STATUS.get(response.status, GatewayStatus.FAILED)
        return GatewayResult(
            status,
            http_status=response.status,
            retry_after=_retry_after(response),
            latency_ms=_since(started),
            attempts=len(response.retries.history) + 1 if response.retries else 1,
        )


def _classify_error(error: Exception | None) -> GatewayStatus:
    return GatewayStatus.UNREACHABLE if isinstance(error, _NOT_SENT) else GatewayStatus.AMBIGUOUS


def _retry_after(response: urllib3.BaseHTTPResponse) -> int | None:
    if response.status not in (429, 503):
        return None
    seconds = Retry(retry_after_max=86_400).get_retry_after(response)
    return None if seconds is None else max(1, round(seconds))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
