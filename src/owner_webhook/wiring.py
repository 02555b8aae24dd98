"""How the function's parts are built: once per warm function, from the settings (cached factories)."""

from __future__ import annotations

import contextlib
import functools

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook.budget import Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplicator, DynamoDBDeduplication, NoDeduplication
from owner_webhook.delivery import Services
from owner_webhook.gateway import GatewayClient
from owner_webhook.retry_queue import RetryQueue
from owner_webhook.settings import Settings, load_settings
from owner_webhook.sources import registry


@functools.cache
def services() -> Services:
    """Built on first use and kept while the function is warm; raises SettingError."""
    settings = load_settings()
    session = boto3.session.Session()  # one session: the AWS endpoint data is loaded once, not per client
    credentials = CredentialStore(
        settings.api_key_secret_id, settings.secret_max_age, session, settings.phone_key_secret_id
    )
    return Services(
        settings=settings,
        credentials=credentials,
        gateway=GatewayClient(settings.owner_url, settings.gateway_connect_timeout, settings.gateway_read_timeout),
        sources=registry(settings),
        deduplicator=_deduplicator(settings, credentials, session),
        queue=RetryQueue(settings.retry_queue_url, settings.queue_sources, session)
        if settings.retry_queue_url
        else None,
    )


def prepare() -> None:
    """Build the services now, in the function's init, if the configuration allows.

    The handlers call this inside `loading()`, so the AWS clients' service models are frozen out of
    the garbage collector with the modules (5 ms of the first request). A configuration that cannot
    be built is left to the first request, which answers it and logs why.
    """
    with contextlib.suppress(Exception):
        services()


def _deduplicator(settings: Settings, credentials: CredentialStore, session: boto3.session.Session) -> Deduplicator:
    if settings.idempotency_table is None:
        return NoDeduplication()
    return DynamoDBDeduplication(
        settings.idempotency_table,
        delivery_window=settings.idempotency_ttl,
        phone_memory=settings.phone_memory,
        phone_key=credentials.phone_key,
        session=session,
    )


def deadline_for(context: LambdaContext, ready: Services) -> Deadline:
    """The request's deadline: the forward within its budget, and room after it to store the answer and
    (with the retry queue) to queue the delivery, all before the function's timeout."""
    return Deadline.start(
        context.get_remaining_time_in_millis() / 1000,
        ready.settings.forward_budget,
        calls_after_forward=2 if ready.queue is not None else 1,
    )
