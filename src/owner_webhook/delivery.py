"""One delivery: authenticate, find and normalize the phone, create its owner once, say what happened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from owner_webhook import answers
from owner_webhook.budget import Deadline
from owner_webhook.credentials import Credentials, CredentialStore
from owner_webhook.deduplication import Deduplicator, Outcome, Work
from owner_webhook.delivery_ids import bounded
from owner_webhook.errors import (
    DeduplicationUnavailableError,
    MissingPhoneError,
    RefusedError,
    RejectedPhoneError,
    SecretStoreUnavailableError,
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


def receive(source_name: str, event: Mapping[str, Any], services: Services, deadline: Deadline) -> answers.Answer:
    """Handle one webhook request within `deadline`.

    Raises a WebhookError for anything that ends without a final answer.
    """
    source = get_source(services.sources, source_name)
    logger.append_keys(source=source.name)
    request = WebhookRequest.from_event(event, services.settings.max_body_bytes)
    credentials = load_credentials(services.credentials, deadline)
    secret = credentials.webhook_secret(source.name)
    if secret is None:
        raise UnauthenticatedError(f"no webhook secret is configured for {source.name}: nothing is accepted unsigned")
    source.verify(request, secret)
    payload = source.read(request)
    delivery_id = bounded(source.delivery_id(request, payload))
    logger.append_keys(delivery_id=delivery_id)
    try:
        phone = _phone(source, payload, services.settings.default_phone_region)
    except RefusedError as refusal:  # the same payload always gets the same answer: nothing to store
        return answers.refused(refusal, source)
    logger.append_keys(phone=mask(phone))

    def create_or_refuse() -> answers.Answer:
        try:
            return create_or_queue(source.name, delivery_id, phone, credentials, services, deadline)
        except RefusedError as refusal:
            return answers.refused(refusal, source)

    return once(services.deduplicator, source.name, delivery_id, phone, create_or_refuse, deadline)


def once(
    deduplicator: Deduplicator, source: str, delivery_id: str, phone: str, work: Work, deadline: Deadline
) -> answers.Answer:
    """The delivery's answer, its work done at most once per phone (SPEC section 7); what happened is logged.

    Raises InProgressError, DeduplicationUnavailableError, and the TransientError of the work.
    """
    if not deadline.fits_aws_call():
        raise DeduplicationUnavailableError("no time is left to check the deduplication table; retry")
    outcome = Outcome()
    answer = deduplicator.once(source, delivery_id, phone, work, outcome)
    if outcome.reused_id:
        # Counted, not refused: the phone is forwarded as the new signup it is.
        logger.append_keys(delivery_id_reused=True)
    if outcome.unrecorded and answer.code == answers.CREATED:
        # The owner exists, but a retry of this delivery would not know it: a possible duplicate.
        return replace(answer, code=answers.CREATED_UNRECORDED)
    return answer


def create_or_queue(
    source: str,
    delivery_id: str,
    phone: str,
    credentials: Credentials,
    services: Services,
    deadline: Deadline,
) -> answers.Answer:
    """Create the owner, or queue it when the gateway fails for now.

    Raises RefusedError (final) or TransientError (neither forwarded nor queued: the sender retries).
    """
    try:
        forward(phone, credentials, services, deadline)
    except TransientError as failure:
        if services.queue is None or not services.queue.takes(source) or not deadline.fits_aws_call():
            raise
        services.queue.put(QueuedDelivery(source, delivery_id, phone, received_now()), failure)
        logger.append_keys(problem=failure.message, queued_because=failure.code)
        return answers.queued()
    return answers.created()


def forward(phone: str, credentials: Credentials, services: Services, deadline: Deadline) -> None:
    """POST the owner; raises RejectedPhoneError (final) or a TransientError."""
    result = _create_owner(phone, credentials, services, deadline)
    logger.append_keys(
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
        case GatewayStatus.NO_TIME:
            raise UpstreamUnavailableError("too little time was left to call the payment gateway safely; retry")
        case _:
            raise UpstreamUnavailableError("the payment gateway is unavailable; retry", retry_after=result.retry_after)


def load_credentials(store: CredentialStore, deadline: Deadline, *, fresh: bool = False) -> Credentials:
    """The secret, if the time left allows a call to Secrets Manager; raises as CredentialStore.load."""
    if fresh and not deadline.fits_aws_call():
        raise SecretStoreUnavailableError("no time is left to read the secret again; retry")
    return store.load(fresh=fresh)


def _phone(source: Source, payload: Mapping[str, Any], region: str) -> str:
    written = source.find_phone(payload)
    if written is None:
        raise MissingPhoneError("the payload has no phone field")
    return to_e164(written, region)


def _create_owner(phone: str, credentials: Credentials, services: Services, deadline: Deadline) -> GatewayResult:
    result = services.gateway.create_owner(phone, credentials.api_key, deadline.forward_by)
    if result.status not in (GatewayStatus.UNAUTHORIZED, GatewayStatus.FORBIDDEN):
        return result
    if not deadline.fits_aws_call(before_forward_ends=True):  # the calls after the forward have their time
        return result
    # The key may have been rotated since it was cached: fetch it fresh once, and send again only if it
    # changed (a 401 on the new key is a real configuration problem, not a rotation).
    fresh = services.credentials.load(fresh=True)
    if fresh.api_key == credentials.api_key:
        return result
    retried = services.gateway.create_owner(phone, fresh.api_key, deadline.forward_by)
    return replace(
        retried, latency_ms=result.latency_ms + retried.latency_ms, attempts=result.attempts + retried.attempts
    )
