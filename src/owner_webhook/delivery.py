"""One delivery: authenticate, find and normalize the phone, create its owner once, say what happened."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook import outcomes
from owner_webhook.budget import Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplicator, Notes, Work
from owner_webhook.delivery_ids import bounded
from owner_webhook.errors import (
    DeduplicationUnavailableError,
    MissingPhoneError,
    RefusedError,
    TransientError,
    UnauthenticatedError,
)
from owner_webhook.outcomes import Result
from owner_webhook.owners import Owners
from owner_webhook.phone import mask, to_e164
from owner_webhook.request import WebhookRequest
from owner_webhook.retry_queue import QueuedDelivery, RetryQueue, received_now
from owner_webhook.sources import Source, get_source

Fields = dict[str, Any]  # what the log line says about the delivery, filled in as it is learned


class Deliveries:
    """Webhook deliveries and the retry queue's messages, each to its result."""

    def __init__(
        self,
        *,
        sources: Mapping[str, Source],
        credentials: CredentialStore,
        memory: Deduplicator,
        owners: Owners,
        queue: RetryQueue | None,
        max_body_bytes: int,
        default_region: str,
    ) -> None:
        self._sources = sources
        self._credentials = credentials
        self._memory = memory
        self._owners = owners
        self._queue = queue
        self._max_body_bytes = max_body_bytes
        self._region = default_region

    @property
    def memory(self) -> Deduplicator:
        return self._memory

    def calls_after_forward(self) -> int:
        """The AWS calls that may follow the gateway's answer: storing it, and queueing the delivery."""
        return 1 if self._queue is None else 2

    def handle(self, source_name: str, event: Mapping[str, Any], deadline: Deadline, fields: Fields) -> Result:
        """One webhook request, within `deadline`. Raises a WebhookError for anything that ends without an owner."""
        source = get_source(self._sources, source_name)
        fields["source"] = source.name
        request = WebhookRequest.from_event(event, self._max_body_bytes)
        credentials = self._credentials.load()
        secret = credentials.webhook_secret(source.name)
        if secret is None:
            raise UnauthenticatedError(
                f"no webhook secret is configured for {source.name}: nothing is accepted unsigned"
            )
        source.verify(request, secret)
        payload = source.read(request)
        delivery_id = fields["delivery_id"] = bounded(source.delivery_id(request, payload))
        form_tool = source.acknowledges_refusals
        try:
            phone = self._phone(source, payload)
        except RefusedError as refusal:  # needs no memory: the same payload always gets the same answer
            return Result(refusal.outcome, refusal.message, form_tool=form_tool, fields=fields)
        fields["phone"] = mask(phone)

        def create_or_queue() -> Result:
            try:
                return self._create(phone, credentials.api_key, deadline, fields)
            except TransientError as failure:
                self._queue_or_raise(
                    failure, QueuedDelivery(source.name, delivery_id, phone, received_now()), fields, deadline
                )
                return Result(outcomes.QUEUED)

        return self._once(source.name, delivery_id, phone, create_or_queue, deadline, fields, form_tool)

    def retry(self, queued: QueuedDelivery, deadline: Deadline, fields: Fields) -> Result:
        """A queued delivery, forwarded again under the same memory; raises a WebhookError to retry it later."""
        fields.update(source=queued.source, delivery_id=queued.delivery_id, phone=mask(queued.phone))
        api_key = self._credentials.load().api_key

        def create() -> Result:
            return self._create(queued.phone, api_key, deadline, fields)

        return self._once(queued.source, queued.delivery_id, queued.phone, create, deadline, fields)

    def _create(self, phone: str, api_key: str, deadline: Deadline, fields: Fields) -> Result:
        """The owner created, or the gateway's refusal (final); raises a TransientError."""
        try:
            self._owners.create(phone, api_key, deadline, fields)
        except RefusedError as refusal:
            return Result(refusal.outcome, refusal.message)
        return Result(outcomes.OWNER_CREATED)

    def _phone(self, source: Source, payload: Mapping[str, Any]) -> str:
        written = source.find_phone(payload)
        if written is None:
            raise MissingPhoneError("the payload has no phone field")
        return to_e164(written, source.phone_region(payload) or self._region)

    def _once(
        self,
        source: str,
        delivery_id: str,
        phone: str,
        work: Work,
        deadline: Deadline,
        fields: Fields,
        form_tool: bool = False,
    ) -> Result:
        """The work done at most once per phone (SPEC section 7). Raises InProgressError,
        DeduplicationUnavailableError, and the work's TransientError."""
        # The phone's claim and its final write (or delete); the delivery id's note only if it fits too.
        if not deadline.fits_aws_call(calls=2):
            raise DeduplicationUnavailableError("no time is left to check the deduplication table; retry")
        notes = Notes()
        result = self._memory.once(source, delivery_id, phone, work, notes, deadline)
        also: tuple[str, ...] = ("DeliveryIdReused",) if notes.reused_id else ()
        if notes.reused_id:  # counted, not refused: the phone is forwarded as the new signup it is
            fields["delivery_id_reused"] = True
        if fields.get("queued_because") == outcomes.UPSTREAM_AMBIGUOUS.code:
            also += ("AmbiguousForward",)  # queued all the same: a possible duplicate
        if notes.unrecorded and result.outcome == outcomes.OWNER_CREATED:
            # The owner exists, but a retry of this delivery would not know it: a possible duplicate.
            result = Result(outcomes.CREATED_UNRECORDED)
        return Result(
            result.outcome, result.message, replayed=result.replayed, form_tool=form_tool, fields=fields, also=also
        )

    def _queue_or_raise(
        self, failure: TransientError, queued: QueuedDelivery, fields: Fields, deadline: Deadline
    ) -> None:
        """Put the delivery on the retry queue, or raise `failure` (the sender then retries)."""
        # The message, then the record's delete: both must still fit.
        if self._queue is None or not self._queue.takes(queued.source) or not deadline.fits_aws_call(calls=2):
            raise failure
        if not self._queue.put(queued):
            fields["retry_queue"] = "unavailable"
            raise failure
        fields.update(problem=failure.message, queued_because=failure.code)
