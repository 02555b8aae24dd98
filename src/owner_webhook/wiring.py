"""How the function's parts are built: once per warm function, from the settings (a cached factory)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook.budget import Deadline, after_forward
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplication, DynamoDBDeduplication, NoDeduplication
from owner_webhook.delivery import DeliveryService
from owner_webhook.forwarder_client import ForwarderClient
from owner_webhook.gateway import GatewayClient
from owner_webhook.owners import Owners
from owner_webhook.pacing import Pace
from owner_webhook.retry_queue import MAX_RETENTION_SECONDS, RetryQueue
from owner_webhook.settings import Settings, load_settings
from owner_webhook.sources import registry

if TYPE_CHECKING:
    from owner_webhook.refusals import RefusalStore


class Parts(NamedTuple):
    """What the two entry points use: the delivery service, and the settings of their time and retries."""

    service: DeliveryService
    queue: RetryQueue | None
    forward_budget: float
    retry_delay: int
    max_receive_count: int
    forwarder: bool = False  # the webhook invokes the forwarder function instead of forwarding itself
    pace: Pace | None = None  # the forwarder instance's share of the gateway's ceiling

    def held_back(self) -> float:
        """Seconds at the end of an invocation kept to hold a call still in flight at the gateway (0: unpaced)."""
        return self.pace.abandoned_call_seconds if self.pace is not None else 0.0

    def in_flight(self) -> float:
        """Seconds until this instance's abandoned call is assumed over at the gateway (0: none, or unpaced)."""
        return self.pace.in_flight() if self.pace is not None else 0.0

    def paused(self) -> float:
        """Seconds this instance still waits because the gateway asked it to (0: none, or unpaced)."""
        return self.pace.paused() if self.pace is not None else 0.0

    def deadline(self, context: LambdaContext, within: float | None = None) -> Deadline:
        """The invocation's deadline: the forward within its budget, and the reservation after it (storing
        the answer; with the retry queue, queueing the delivery and releasing its claim) kept from the start.
        `within`: the seconds the caller of the forwarder gave it, when they are fewer than the invocation's.
        The forwarder keeps the last GATEWAY_ABANDONED_CALL_SECONDS of its invocation to hold a call whose answer
        it stops waiting for, so that no forward ends too late to be held (pacing.py)."""
        remaining = context.get_remaining_time_in_millis() / 1000 - self.held_back()
        if within is not None:  # the forwarder, invoked by the webhook: it records, the webhook queues
            return Deadline.start(min(remaining, within), self.forward_budget, after_forward(False))
        reserved = after_forward(self.queue is not None, forwarder=self.forwarder)
        return Deadline.start(remaining, self.forward_budget, reserved)


@functools.cache
def parts() -> Parts:
    """Built on first use and kept while the function is warm; raises SettingError."""
    settings = load_settings()
    session = boto3.session.Session()  # one session: the AWS endpoint data is loaded once, not per client
    credentials = CredentialStore(
        settings.api_key_secret_id, settings.secret_max_age, session, settings.phone_key_secret_id
    )
    # This instance's share of the gateway's ceiling: the forwarder's (its reserved concurrency is
    # GATEWAY_CONCURRENCY); elsewhere, unpaced.
    pace = None
    if settings.gateway_concurrency is not None and settings.gateway_rate is not None:
        pace = Pace.for_ceiling(settings.gateway_concurrency, settings.gateway_rate, settings.gateway_abandoned_call)
    gateway = GatewayClient(
        settings.owner_url, settings.gateway_connect_timeout, settings.gateway_read_timeout, paced=pace is not None
    )
    queue = RetryQueue(settings.retry_queue_url, settings.queue_sources, session) if settings.retry_queue_url else None
    service = DeliveryService(
        sources=registry(settings.typeform_phone_ref),
        credentials=credentials,
        deduplication=_deduplication(settings, credentials, session),
        owners=Owners(gateway, credentials, pace),
        queue=queue,
        phone_keys=_phone_keys(settings, credentials),
        max_body_bytes=settings.max_body_bytes,
        default_region=settings.default_phone_region,
        forwarder=(
            ForwarderClient(settings.forwarder_function, session, settings.forward_budget)
            if settings.forwarder_function
            else None
        ),
        refusals=_refusals(settings, session),
        queue_every_delivery=settings.queue_every_delivery,
    )
    return Parts(
        service,
        queue,
        settings.forward_budget,
        settings.retry_delay,
        settings.max_receive_count,
        forwarder=settings.forwarder_function is not None,
        pace=pace,
    )


def _refusals(settings: Settings, session: boto3.session.Session) -> Callable[[], RefusalStore] | None:
    """The kept refusals' store, built (its module imported, its S3 client made) when the first is kept."""
    bucket, days = settings.refused_bucket, settings.refused_retention_days
    if bucket is None or not settings.keeps_refusals:
        return None

    @functools.cache
    def store() -> RefusalStore:
        from owner_webhook.refusals import RefusalStore

        return RefusalStore(bucket, days, session)

    return store


def _deduplication(settings: Settings, credentials: CredentialStore, session: boto3.session.Session) -> Deduplication:
    if settings.idempotency_table is None:
        return NoDeduplication()
    return DynamoDBDeduplication(
        settings.idempotency_table,
        delivery_window=settings.idempotency_ttl,
        phone_window=settings.phone_deduplication,
        # With the retry queue, an answer outlives every message that may still be redriven.
        min_lifetime=MAX_RETENTION_SECONDS if settings.retry_queue_url else 0,
        phone_keys=credentials.phone_keys,
        # A queued message, or a kept refusal replayed, is claimed as the table knew the phone when it arrived.
        late=max(
            MAX_RETENTION_SECONDS if settings.retry_queue_url else 0,
            settings.refused_retention_days * 86_400 if settings.keeps_refusals else 0,
        ),
        session=session,
    )


def _phone_keys(settings: Settings, credentials: CredentialStore) -> Callable[[], Sequence[bytes]]:
    """The phone keys, which also key the HMAC of logged delivery ids; without a table (and so without
    them) a key of this warm function's own, for the logged ids only."""
    if settings.phone_key_secret_id is not None:
        return credentials.phone_keys
    own = (os.urandom(32),)
    return lambda: own
