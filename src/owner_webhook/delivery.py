"""One delivery: authenticate, find and normalize the phone, create the owner once, say what happened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from owner_webhook import answers
from owner_webhook.credentials import Credentials, CredentialStore
from owner_webhook.deduplication import Deduplicator
from owner_webhook.delivery_ids import bounded
from owner_webhook.errors import (
    MissingPhoneError,
    RefusedError,
    RejectedPhoneError,
    TransientError,
    UnauthenticatedError,
    UpstreamAmbiguousError,
    UpstreamAuthError,
    UpstreamUnavailableError,
)
from owner_webhook.gateway import GatewayClient, GatewayResult, GatewayStatus
from owner_webhook.observability import logger
from owner_webhook.phone import mask, to_e164
from owner_webhook.request import WebhookRequest
from owner_webhook.retry_queue import QueuedDelivery, RetryQueue, received_now
from owner_webhook.settings import Settings
from owner_webhook.sources import Source, get_source


@dataclass(frozen=True)
class Services:
    settings: Settings
    credentials: CredentialStore
    gateway: GatewayClient
    sources: Mapping[str, Source]
    deduplicator: Deduplicator
    queue: RetryQueue | None = None


def receive(source_name: str, event: Mapping[str, Any], services: Services, deadline: float) -> answers.Answer:
    """Handle one webhook request, forwarding before `deadline` (monotonic).

    Raises a WebhookError for anything that ends without a final answer.
    """
    source = get_source(services.sources, source_name)
    logger.append_keys(source=source.name)
    request = WebhookRequest.from_event(event, services.settings.max_body_bytes)
    credentials = services.credentials.load()
    secret = credentials.webhook_secret(source.name)
    if secret is None:
        raise UnauthenticatedError(f"no webhook secret is configured for {source.name}: nothing is accepted unsigned")
    source.verify(request, secret)
    payload = source.read(request)
    delivery_id = bounded(source.delivery_id(request, payload))
    logger.append_keys(delivery_id=delivery_id)

    def final_answer() -> answers.Answer:
        try:
            return register(source, payload, delivery_id, credentials, services, deadline)
        except RefusedError as refusal:
            return answers.refused(refusal, source)

    return services.deduplicator.once(source.name, delivery_id, final_answer)


def register(
    source: Source,
    payload: Mapping[str, Any],
    delivery_id: str,
    credentials: Credentials,
    services: Services,
    deadline: float,
) -> answers.Answer:
    """Create the owner, or queue it when the gateway fails for now.

    Raises RefusedError (final) or TransientError (neither forwarded nor queued: the sender retries).
    """
    written = source.find_phone(payload)
    if written is None:
        raise MissingPhoneError("the payload has no phone field")
    phone = to_e164(written, services.settings.default_phone_region)
    try:
        forward(phone, credentials, services, deadline)
    except TransientError as failure:
        if services.queue is None or not services.queue.takes(source.name):
            raise
        services.queue.put(QueuedDelivery(source.name, delivery_id, phone, received_now()), failure)
        logger.append_keys(problem=failure.message, queued_because=failure.code)
        return answers.queued()
    return answers.created()


def forward(phone: str, credentials: Credentials, services: Services, deadline: float) -> None:
    """POST the owner; raises RejectedPhoneError (final) or a TransientError."""
    result = _create_owner(phone, credentials, services, deadline)
    logger.append_keys(
        phone=mask(phone),
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
            raise UpstreamUnavailableError("the payment gateway is unavailable; retry", retry_after=result.retry_after)


def _create_owner(phone: str, credentials: Credentials, services: Services, deadline: float) -> GatewayResult:
    result = services.gateway.create_owner(phone, credentials.api_key, deadline)
    if result.status not in (GatewayStatus.UNAUTHORIZED, GatewayStatus.FORBIDDEN):
        return result
    # The key may have been rotated since it was cached: fetch it fresh once, and send again only if it
    # changed (a 401 on the new key is a real configuration problem, not a rotation).
    fresh = services.credentials.load(fresh=True)
    if fresh.api_key == credentials.api_key:
        return result
    retried = services.gateway.create_owner(phone, fresh.api_key, deadline)
    return replace(
        retried, latency_ms=result.latency_ms + retried.latency_ms, attempts=result.attempts + retried.attempts
    )
