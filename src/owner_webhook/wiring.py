"""How the function's parts are built: once per warm function, from the settings (cached factories)."""

from __future__ import annotations

import contextlib
import functools
import time

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplicator, DynamoDBDeduplication, NoDeduplication
from owner_webhook.delivery import Services
from owner_webhook.gateway import GatewayClient
from owner_webhook.retry_queue import RetryQueue
from owner_webhook.settings import load_settings
from owner_webhook.sources import registry

# Time kept back from the Lambda timeout to store the answer and reply after the forward.
FINISH_SECONDS = 1.0


@functools.cache
def services() -> Services:
    """Built on first use and kept while the function is warm; raises SettingError."""
    settings = load_settings()
    session = boto3.session.Session()  # one session: the AWS endpoint data is loaded once, not per client
    return Services(
        settings=settings,
        credentials=CredentialStore(settings.api_key_secret_id, settings.secret_max_age, session),
        gateway=GatewayClient(settings.owner_url, settings.gateway_connect_timeout, settings.gateway_read_timeout),
        sources=registry(settings),
        deduplicator=_deduplicator(settings.idempotency_table, settings.idempotency_ttl, session),
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


def _deduplicator(table: str | None, ttl: int, session: boto3.session.Session) -> Deduplicator:
    return DynamoDBDeduplication(table, ttl, session) if table else NoDeduplication()


def deadline_for(context: LambdaContext, budget: float) -> float:
    """When the forward must be over: within its budget and within the Lambda's remaining time."""
    remaining = context.get_remaining_time_in_millis() / 1000 - FINISH_SECONDS
    return time.monotonic() + max(0.1, min(budget, remaining))
