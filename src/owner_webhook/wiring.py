"""How the function's parts are built: once per warm function, from the settings (a cached factory)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook.budget import Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplicator, DynamoDBDeduplication, NoDeduplication
from owner_webhook.delivery import Deliveries
from owner_webhook.gateway import GatewayClient
from owner_webhook.owners import Owners
from owner_webhook.retry_queue import RetryQueue
from owner_webhook.settings import Settings, load_settings
from owner_webhook.sources import registry


@dataclass(frozen=True)
class Parts:
    """What the two entry points use: the deliveries, and the settings of their time and retries."""

    deliveries: Deliveries
    queue: RetryQueue | None
    forward_budget: float
    retry_delay: int
    max_receive_count: int

    def deadline(self, context: LambdaContext) -> Deadline:
        """The invocation's deadline: the forward within its budget, and room after it for the calls that
        follow (storing the answer, queueing the delivery), all before the function's timeout."""
        return Deadline.start(
            context.get_remaining_time_in_millis() / 1000,
            self.forward_budget,
            self.deliveries.calls_after_forward(),
        )


@functools.cache
def parts() -> Parts:
    """Built on first use and kept while the function is warm; raises SettingError."""
    settings = load_settings()
    session = boto3.session.Session()  # one session: the AWS endpoint data is loaded once, not per client
    credentials = CredentialStore(
        settings.api_key_secret_id, settings.secret_max_age, session, settings.phone_key_secret_id
    )
    gateway = GatewayClient(settings.owner_url, settings.gateway_connect_timeout, settings.gateway_read_timeout)
    queue = RetryQueue(settings.retry_queue_url, settings.queue_sources, session) if settings.retry_queue_url else None
    deliveries = Deliveries(
        sources=registry(settings.typeform_phone_ref),
        credentials=credentials,
        memory=_memory(settings, credentials, session),
        owners=Owners(gateway, credentials),
        queue=queue,
        max_body_bytes=settings.max_body_bytes,
        default_region=settings.default_phone_region,
    )
    return Parts(deliveries, queue, settings.forward_budget, settings.retry_delay, settings.max_receive_count)


def _memory(settings: Settings, credentials: CredentialStore, session: boto3.session.Session) -> Deduplicator:
    if settings.idempotency_table is None:
        return NoDeduplication()
    return DynamoDBDeduplication(
        settings.idempotency_table,
        delivery_window=settings.idempotency_ttl,
        phone_memory=settings.phone_memory,
        phone_key=credentials.phone_key,
        session=session,
    )
