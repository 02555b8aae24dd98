"""The payment gateway's NewOwnerRequest: POST /owner, every outcome a typed result."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError, ProxyError, SSLError
from urllib3.util import Retry, Timeout


class GatewayStatus(StrEnum):
    CREATED = "created"  # 200: the owner exists now
    REJECTED = "rejected"  # 400: the gateway refuses this phone; final
    UNAUTHORIZED = "unauthorized"  # 401: the key is wrong (perhaps rotated)
    FORBIDDEN = "forbidden"  # 403: the key may not create owners
    THROTTLED = "throttled"  # 429
    FAILED = "failed"  # 5xx or an answer outside the contract; nothing created
    UNREACHABLE = "unreachable"  # refused, DNS, connect timeout: the request surely did not arrive
    AMBIGUOUS = "ambiguous"  # read timeout or dropped connection: the owner may exist


_BY_HTTP_STATUS = {
    200: GatewayStatus.CREATED,
    400: GatewayStatus.REJECTED,
    401: GatewayStatus.UNAUTHORIZED,
    403: GatewayStatus.FORBIDDEN,
    429: GatewayStatus.THROTTLED,
}
# Failures that happen before a byte of the request is sent.
_NOT_SENT = (NewConnectionError, ConnectTimeoutError, SSLError, ProxyError)


@dataclass(frozen=True)
class GatewayResult:
    status: GatewayStatus
    http_status: int | None = None
    retry_after: int | None = None
    latency_ms: float = 0.0


class GatewayClient:
    """One connection pool per warm function; `create_owner` never raises for network trouble."""

    def __init__(self, owner_url: str, connect_timeout: float, read_timeout: float) -> None:
        self._owner_url = owner_url
        self._timeout = Timeout(connect=connect_timeout, read=read_timeout)
        # Retry only what surely never reached the gateway (refused, DNS, connect timeout): a POST
        # that may have arrived is never repeated here, because the gateway would create a second owner.
        self._retries = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=False, backoff_factor=0.1)
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=4, retries=self._retries, timeout=self._timeout)

    def create_owner(self, phone: str, api_key: str) -> GatewayResult:
        """POST {"phone": phone} with the Bearer key and classify the outcome."""
        started = time.perf_counter()
        try:
            response = self._pool.request(
                "POST",
                self._owner_url,
                body=json.dumps({"phone": phone}).encode(),
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except MaxRetryError as exc:
            return GatewayResult(_classify_error(exc.reason), latency_ms=_since(started))
        except HTTPError as exc:
            return GatewayResult(_classify_error(exc), latency_ms=_since(started))
        status = _BY_HTTP_STATUS.get(response.status, GatewayStatus.FAILED)
        return GatewayResult(
            status,
            http_status=response.status,
            retry_after=_retry_after(self._retries, response),
            latency_ms=_since(started),
        )


def _classify_error(error: Exception | None) -> GatewayStatus:
    return GatewayStatus.UNREACHABLE if isinstance(error, _NOT_SENT) else GatewayStatus.AMBIGUOUS


def _retry_after(retries: Retry, response: urllib3.BaseHTTPResponse) -> int | None:
    if response.status not in (429, 503):
        return None
    seconds = retries.get_retry_after(response)
    return None if seconds is None else max(1, round(seconds))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
