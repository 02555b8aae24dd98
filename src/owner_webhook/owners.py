"""The gateway side: the key (read fresh once when the gateway refuses it), the POST, what each answer means."""

from __future__ import annotations

import math
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from owner_webhook.budget import MIN_FORWARD_SECONDS, SECRET, Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.errors import (
    AtCeilingError,
    OutOfTimeError,
    RejectedPhoneError,
    UpstreamAmbiguousError,
    UpstreamAuthError,
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
        if result.status == GatewayStatus.NOT_SENT:
            fields.update(gateway_attempts=0)
            raise OutOfTimeError("too little time was left to call the payment gateway safely; retry")
        if result.status == GatewayStatus.PAUSED:
            fields.update(gateway_attempts=0, gateway_status=str(result.status))
            raise AtCeilingError("the gateway's ceiling left no turn in time; retry", retry_after=result.retry_after)
        fields.update(
            gateway_status=result.http_status or str(result.status),
            gateway_latency_ms=result.latency_ms,
            gateway_attempts=result.attempts,
        )
        match result.status:
            case GatewayStatus.CREATED:
                return
            case GatewayStatus.REJECTED:
                raise RejectedPhoneError("the payment gateway refused the phone number")
            case GatewayStatus.UNAUTHORIZED | GatewayStatus.FORBIDDEN:
                raise UpstreamAuthError("the payment gateway refused the API key; it has been fetched fresh")
            case GatewayStatus.AMBIGUOUS:
                # The owner may exist now: a retry may create a second one, but dropping the signup is worse.
                raise UpstreamAmbiguousError("the payment gateway did not answer in time; retry")
            case _:
                raise UpstreamUnavailableError(
                    "the payment gateway is unavailable; retry", retry_after=result.retry_after
                )

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
        return replace(
            retried, latency_ms=result.latency_ms + retried.latency_ms, attempts=result.attempts + retried.attempts
        )

    def _paced(self, phone: str, api_key: str, deadline: Deadline) -> GatewayResult:
        """One call to the gateway in this instance's turn. A 429 or 503 pauses the instance for its
        Retry-After; so does an answer that never came (for the default pause), since the gateway may
        still be working on that call: the next one would be more than this instance's share in flight."""
        if self._pace is None:
            return self._gateway.create_owner(phone, api_key, deadline.forward_by)
        if not self._pace.take_turn(latest=deadline.forward_by - MIN_FORWARD_SECONDS):
            return GatewayResult(GatewayStatus.PAUSED, retry_after=math.ceil(self._pace.paused()) or None, attempts=0)
        result = self._gateway.create_owner(phone, api_key, deadline.forward_by)
        if result.status == GatewayStatus.THROTTLED or result.http_status == HTTPStatus.SERVICE_UNAVAILABLE:
            self._pace.pause(result.retry_after)
        elif result.status == GatewayStatus.AMBIGUOUS:
            self._pace.pause(None)
        return result
