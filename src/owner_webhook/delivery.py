"""One delivery: authenticate, find and normalize the phone, create its owner once, say what happened."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from owner_webhook import outcomes
from owner_webhook.budget import CLAIM, NOTE, QUEUE, QUEUE_AND_RELEASE, RECORD, SECRET, Deadline
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import STORED, Answered, Claim, Deduplication, PhoneState, keyed
from owner_webhook.delivery_ids import loggable, normalized, phone_ref
from owner_webhook.errors import (
    DeduplicationUnavailableError,
    InProgressError,
    MissingPhoneError,
    OutOfTimeError,
    RefusedError,
    RetryQueueUnavailableError,
    TransientError,
    UnauthenticatedError,
    WebhookError,
)
from owner_webhook.forwarder_client import ForwarderClient
from owner_webhook.outcomes import Result
from owner_webhook.owners import Owners
from owner_webhook.phone import mask, to_e164
from owner_webhook.request import WebhookRequest, is_dry_run
from owner_webhook.retry_queue import QueuedDelivery, RetryQueue, received_now
from owner_webhook.sources import Source, get_source

Fields = dict[str, Any]  # what the log line says about the delivery, filled in as it is learned


class DeliveryService:
    """Webhook deliveries and the retry queue's messages, each to its result."""

    def __init__(
        self,
        *,
        sources: Mapping[str, Source],
        credentials: CredentialStore,
        deduplication: Deduplication,
        owners: Owners,
        queue: RetryQueue | None,
        phone_keys: Callable[[], Sequence[bytes]],
        max_body_bytes: int,
        default_region: str,
        forwarder: ForwarderClient | None = None,
        queue_every_delivery: bool = False,
    ) -> None:
        self._sources = sources
        self._credentials = credentials
        self.deduplication = deduplication
        self._owners = owners
        self._queue = queue
        self._phone_keys = phone_keys
        self._max_body_bytes = max_body_bytes
        self._region = default_region
        self._forwarder = forwarder  # None: this process forwards (claims, calls the gateway, records)
        self._queue_every_delivery = queue_every_delivery  # only the forwarder's queue event source forwards

    def source(self, name: str) -> Source:
        """The source registered under `name`; raises UnknownSourceError."""
        return get_source(self._sources, name)

    def handle(self, source: Source, event: Mapping[str, Any], deadline: Deadline, fields: Fields) -> Result:
        """One webhook request, within `deadline`. Raises a WebhookError for anything that ends without an owner."""
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
        delivery_id = normalized(source.delivery_id(request, payload))
        keys = self._phone_keys()  # read once: they key the records and the logged id
        fields["delivery_id"] = loggable(delivery_id, keys[0])
        acknowledges_refusals = source.acknowledges_refusals
        dry_run = is_dry_run(event)
        try:
            phone = self._phone(source, payload)
        except RefusedError as refusal:  # needs no deduplication: the same payload always gets the same answer
            if dry_run:
                return _dry_run(refusal.outcome, fields, success=False, phone=None, known=False)
            return Result(refusal.outcome, refusal.message, acknowledges_refusals=acknowledges_refusals, fields=fields)
        fields.update(phone=mask(phone), phone_ref=phone_ref(phone, keys[0]))
        delivery = QueuedDelivery(source.name, delivery_id, phone, received_now())
        if dry_run:
            return self._dry_run(delivery, keys[0], deadline, fields)
        if self._queue_every_delivery:
            self._queue_only(delivery, deadline, fields)
            return Result(outcomes.QUEUED, acknowledges_refusals=acknowledges_refusals, fields=fields)
        try:
            if self._forwarder is not None:
                result = self._forwarder.forward(delivery, deadline, fields)
            else:
                result = self._forward_once(delivery, credentials.api_key, keys, deadline, fields, queue=True)
        except InProgressError as busy:
            if source.retries:
                raise  # 409: the sender comes back and finds the owner
            # A sender that never retries would lose the signup: the forwarder finds the owner, or creates it.
            result = self._queue_or_raise(busy, delivery, deadline, fields, claim=None)
        except (OutOfTimeError, DeduplicationUnavailableError) as failure:  # before any claim was made
            result = self._queue_or_raise(failure, delivery, deadline, fields, claim=None)
        except TransientError as failure:
            if self._forwarder is None:
                raise  # this process queued it already, or could not
            # The forwarder function took no claim, or released it: the delivery waits in the queue, or the
            # sender is asked to retry. Beyond the gateway's ceiling (at_ceiling) this is the usual way.
            result = self._queue_or_raise(failure, delivery, deadline, fields, claim=None)
        return Result(
            result.outcome,
            result.message,
            replayed=result.replayed,
            acknowledges_refusals=acknowledges_refusals,
            fields=fields,
            also=result.also,
        )

    def _queue_only(self, delivery: QueuedDelivery, deadline: Deadline, fields: Fields) -> None:
        """Put the delivery on the retry queue for the forwarder, unforwarded and unclaimed (the forwarder
        claims it there); raises OutOfTimeError or RetryQueueUnavailableError."""
        if not deadline.fits_in_reserve(QUEUE):
            raise OutOfTimeError("too little time is left to queue the delivery; retry")
        if self._queue is None or not self._queue.put(delivery):
            raise RetryQueueUnavailableError("the retry queue could not take the delivery; retry")
        fields["queued_because"] = "queue_every_delivery"

    def _dry_run(self, delivery: QueuedDelivery, key: bytes, deadline: Deadline, fields: Fields) -> Result:
        """What this delivery would get, from what the table knows of its phone (read only)."""
        if not deadline.fits(CLAIM):
            raise OutOfTimeError("too little time is left to look the phone up; retry")
        record = self.deduplication.lookup(delivery.phone)
        this = keyed(key, delivery.phone, delivery.source, delivery.delivery_id)[1]
        known = record is not None and record.state == PhoneState.OWNER_CREATED
        if record is None or record.lapsed:
            would, success = outcomes.OWNER_CREATED, True
        elif record.delivery == this and not record.old_key:  # the same delivery again: its first answer
            would, success = outcomes.DUPLICATE_REPLAYED, known
        elif not self.deduplication.by_phone or record.state == PhoneState.REFUSED:
            would, success = outcomes.OWNER_CREATED, True  # forwarded: a refusal marks no owner
        elif record.state == PhoneState.IN_PROGRESS:
            would, success = outcomes.IN_PROGRESS, False
        else:
            would, success = outcomes.PHONE_EXISTING, True
        return _dry_run(would, fields, success=success, phone=fields["phone"], known=known)

    def retry(self, queued: QueuedDelivery, deadline: Deadline, fields: Fields) -> Result:
        """A queued delivery, forwarded again under the same deduplication; raises a WebhookError to retry it later."""
        fields.update(source=queued.source, phone=mask(queued.phone))
        if not deadline.fits(SECRET, then=CLAIM):
            raise OutOfTimeError("too little time is left in this invocation; the message waits")
        credentials = self._credentials.load()
        keys = self._phone_keys()
        fields.update(delivery_id=loggable(queued.delivery_id, keys[0]), phone_ref=phone_ref(queued.phone, keys[0]))
        return self._forward_once(queued, credentials.api_key, keys, deadline, fields, queue=False)

    def _forward_once(
        self,
        delivery: QueuedDelivery,
        api_key: str,
        keys: Sequence[bytes],
        deadline: Deadline,
        fields: Fields,
        *,
        queue: bool,
    ) -> Result:
        """Claim the phone, forward it, record the answer (or, with `queue`, queue a transient failure).

        Raises InProgressError, OutOfTimeError or DeduplicationUnavailableError before claiming anything,
        and the forward's TransientError after releasing the claim.
        """
        if not deadline.fits(CLAIM):
            raise OutOfTimeError("too little time is left to claim the phone; retry")
        decision = self.deduplication.claim(delivery.source, delivery.delivery_id, delivery.phone, deadline, keys)
        if isinstance(decision, Answered):
            return decision.result
        claim = decision
        also: list[str] = []
        if claim.after_lapsed_claim:  # an invocation died mid-forward: its owner may exist
            fields["after_lapsed_claim"] = True
        if deadline.fits(NOTE) and self.deduplication.note(claim):
            fields["delivery_id_reused"] = True  # counted, not refused: the phone is forwarded as the new signup
            also.append("DeliveryIdReused")
        try:
            result = self._create(delivery.phone, api_key, deadline, fields)
        except TransientError as failure:
            also.extend(failure.outcome.signals)
            if queue:
                queued = self._queue_or_raise(failure, delivery, deadline, fields, claim=claim)
                return Result(queued.outcome, also=tuple(also))
            self.deduplication.release(claim)  # if this fails, the claim lapses when the invocation ends
            raise
        if result.outcome in STORED:
            recorded = deadline.fits_in_reserve(RECORD) and self.deduplication.record(claim, result)
            if not recorded and result.outcome == outcomes.OWNER_CREATED:
                # The owner exists, but a retry of this delivery would not know it: a possible duplicate.
                result = Result(outcomes.CREATED_UNRECORDED)
        if claim.after_lapsed_claim and result.outcome == outcomes.OWNER_CREATED:
            also.append("AmbiguousForward")  # the dead invocation may have created one too
        elif result.outcome == outcomes.OWNER_CREATED and self.deduplication.forgot_since(delivery.received_at):
            # A delivery older than the table's memory (a late redrive): an owner created for its phone since
            # it arrived may have been forgotten, so this one may be a second.
            fields["older_than_memory"] = True
            also.append("AmbiguousForward")
        return Result(result.outcome, result.message, also=tuple(also))

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

    def _queue_or_raise(
        self, failure: WebhookError, delivery: QueuedDelivery, deadline: Deadline, fields: Fields, claim: Claim | None
    ) -> Result:
        """Put the delivery on the retry queue and release its claim, or raise `failure` (the sender retries)."""
        # Reserved when the request started: what came before the forward cannot have used this time.
        needed = QUEUE if claim is None else QUEUE_AND_RELEASE
        try:
            if self._queue is None or not self._queue.takes(delivery.source) or not deadline.fits_in_reserve(needed):
                raise failure
            if not self._queue.put(delivery):
                fields["retry_queue"] = "unavailable"
                raise failure
        finally:
            if claim is not None:  # queued or not, no owner yet; if this fails, the claim lapses
                self.deduplication.release(claim)
        fields.update(problem=failure.message, queued_because=failure.code)
        return Result(outcomes.QUEUED, also=failure.outcome.signals)


def _dry_run(would: outcomes.Outcome, fields: Fields, *, success: bool, phone: str | None, known: bool) -> Result:
    """The answer to a dry run: 200 whatever would happen, and what that is."""
    fields["dry_run_outcome"] = would.code
    details = {"success": success, "outcome": would.code, "phone": phone, "phone_known": known}
    return Result(outcomes.DRY_RUN, fields=fields, details=details)
