"""The gateway side: the key (read fresh once when the gateway refuses it), the POST, what each answer means."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any, assert_never

from owner_webhook.budget import MIN_FORWARD_SECONDS, SECRET, Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.errors import (
    AtCeilingError,
    OutOfTimeError,
    RejectedPhoneError,
    UpstreamAmbiguousError,
    UpstreamAuthError,
    UpstreamMisdirectedError,
    UpstreamUnavailableError,
)
from owner_webhook.gateway import GatewayClient, GatewayResult, GatewayStatus
from owner_webhook.pacing import Pace


class Owners:
    def __init__(self, gateway: GatewayClient, credentials: CredentialStore, pace: Pace | None = None) -> None:
        self._gateway = gateway
        self._credentials = credentials
        self._pace = pace  # the forwarder instance's share of the gateway's ceiling; None: unpaced

    def create(self, phone: str, api_key: str, deadline: Deadline, fields: dict[str, Any]) -> None:
        """POST the owner with the key the secret held (read again if the gateway refuses it) before
        `deadline.forward_by`; what the gateway said goes into `fields` (the log).

        Raises RejectedPhoneError (final), or a TransientError (the owner may be created on a retry).
        """
        result = self._post(phone, api_key, deadline)
        if result.status in (GatewayStatus.NOT_SENT, GatewayStatus.PAUSED):
            fields.update(gateway_attempts=0)
        else:
            fields.update(
                gateway_status=result.http_status or str(result.status),
                gateway_latency_ms=result.latency_ms,
                gateway_attempts=result.attempts,
            )
            if result.abandoned:
                fields.update(gateway_abandoned=True)
        status = f"HTTP {result.http_status}"
        # One arm per class of gateway.py's table, and one per way of getting no answer.
        match result.status:
            case GatewayStatus.CREATED:
                return
            case GatewayStatus.REJECTED:
                raise RejectedPhoneError(f"the payment gateway refused the phone number ({status})")
            case GatewayStatus.UNAUTHORIZED | GatewayStatus.FORBIDDEN:
                raise UpstreamAuthError("the payment gateway refused the API key; it has been fetched fresh")
            case GatewayStatus.MISDIRECTED:
                raise UpstreamMisdirectedError(
                    f"the payment gateway's address or method is wrong ({status} for POST /owner): check "
                    "GATEWAY_BASE_URL; nothing was created"
                )
            case GatewayStatus.AMBIGUOUS | GatewayStatus.ABANDONED:
                # The owner may exist now: a retry may create a second one, but dropping the signup is worse.
                raise UpstreamAmbiguousError("the payment gateway did not answer in time; retry")
            case GatewayStatus.THROTTLED | GatewayStatus.FAILED | GatewayStatus.UNREACHABLE:
                raise UpstreamUnavailableError(
                    "the payment gateway is unavailable; retry", retry_after=result.retry_after
                )
            case GatewayStatus.NOT_SENT:
                raise OutOfTimeError("too little time was left to call the payment gateway safely; retry")
            case GatewayStatus.PAUSED:
                fields.update(gateway_status=str(result.status))
                raise AtCeilingError(
                    "the gateway's ceiling left no turn in time; retry", retry_after=result.retry_after
                )
            case unknown:
                assert_never(unknown)

    def _post(self, phone: str, api_key: str, deadline: Deadline) -> GatewayResult:
        result = self._paced(phone, api_key, deadline)
        if result.status not in (GatewayStatus.UNAUTHORIZED, GatewayStatus.FORBIDDEN):
            return result
        if not deadline.fits_in_forward(SECRET):  # the calls after the forward keep their reservation
            return result
        # The key may have been rotated since it was cached: fetch it fresh once, and send again only if it
        # changed (a 401 on the new key is a real configuration problem, not a rotation).
        fresh = self._credentials.load(fresh=True).api_key
        if fresh == api_key:
            return result
        retried = self._paced(phone, fresh, deadline)
        return retried._replace(
            latency_ms=result.latency_ms + retried.latency_ms, attempts=result.attempts + retried.attempts
        )

    def _paced(self, phone: str, api_key: str, deadline: Deadline) -> GatewayResult:
        """One call to the gateway in this instance's turn. A 429 or 503 pauses the instance for its
        Retry-After; a call dropped without an answer for the default pause. A call whose answer we stopped
        waiting for (read timeout, deadline) is still in flight at the gateway: the instance calls nothing
        more until it is assumed over (pacing.py)."""
        if self._pace is None:
            return self._gateway.create_owner(phone, api_key, deadline.forward_by)
        if not self._pace.take_turn(latest=deadline.forward_by - MIN_FORWARD_SECONDS):
            return GatewayResult(GatewayStatus.PAUSED, retry_after=math.ceil(self._pace.paused()) or None, attempts=0)
        result = self._gateway.create_owner(phone, api_key, deadline.forward_by)
        if result.sent_at is not None:  # the spacing holds where the gateway counts: from when the request went out
            self._pace.sent(result.sent_at)
        if result.abandoned:  # whatever its status line said, the gateway may still be working on it
            self._pace.abandoned()
        elif result.status == GatewayStatus.THROTTLED or result.http_status == HTTPStatus.SERVICE_UNAVAILABLE:
            self._pace.pause(result.retry_after)
        elif result.status == GatewayStatus.AMBIGUOUS:
            self._pace.pause(None)
        return result
