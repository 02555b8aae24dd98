"""One delivery: authenticate, find and normalize the phone, create its owner once, say what happened."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from owner_webhook import outcomes
from owner_webhook.budget import CLAIM, NOTE, QUEUE, QUEUE_AND_RELEASE, RECORD, SECRET, Deadline
from owner_webhook.credentials import Credentials, CredentialStore
from owner_webhook.deduplication import STORED, Answered, Claim, Deduplication, PhoneState, keyed
from owner_webhook.delivery_ids import loggable, normalized, phone_ref
from owner_webhook.errors import (
    DeduplicationUnavailableError,
    InProgressError,
    InvalidPhoneError,
    MalformedBodyError,
    MalformedMessageError,
    MissingPhoneError,
    OutOfTimeError,
    RefusedError,
    RetryQueueUnavailableError,
    TransientError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    WebhookError,
)
from owner_webhook.forwarder_client import ForwarderClient
from owner_webhook.outcomes import Result
from owner_webhook.owners import Owners
from owner_webhook.phone import mask, to_e164
from owner_webhook.request import WebhookRequest, is_dry_run
from owner_webhook.retry_queue import QueuedDelivery, RetryQueue, received_now
from owner_webhook.sources import Source, get_source

if TYPE_CHECKING:  # imported where a refusal is kept: never on the way to an owner
    from owner_webhook.refusals import KeptRefusal, RefusalStore

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
        refusals: Callable[[], RefusalStore] | None = None,
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
        self._refusals = refusals  # the store, built when first used; None: nothing is kept (REFUSED_BUCKET, 0 days)
        self._queue_every_delivery = queue_every_delivery  # only the forwarder's queue event source forwards

    def source(self, name: str) -> Source:
        """The source registered under `name`; raises UnknownSourceError."""
        return get_source(self._sources, name)

    def handle(self, source: Source, event: Mapping[str, Any], deadline: Deadline, fields: Fields) -> Result:
        """One webhook request, within `deadline`. Raises a WebhookError for anything that ends without an owner,
        but for what is kept once the request is authenticated: that is answered, and kept (refusals.py)."""
        fields["source"] = source.name
        request = WebhookRequest.from_event(event, self._max_body_bytes)
        credentials = self._credentials.load()
        secret = credentials.webhook_secret(source.name)
        if secret is None:
            raise UnauthenticatedError(
                f"no webhook secret is configured for {source.name}: nothing is accepted unsigned"
            )
        source.verify(request, secret)
        dry_run = is_dry_run(event)
        try:
            result = self._authenticated(source, request, credentials, deadline, fields, dry_run=dry_run)
        except (MalformedBodyError, UnsupportedMediaTypeError) as unreadable:
            result = Result(unreadable.outcome, unreadable.message, fields=fields)
        if not result.outcome.kept or dry_run or self._refusals is None:  # a dry run is never kept
            return result
        from owner_webhook.refusals import KeptRefusal

        kept = KeptRefusal.received(source, request, result.outcome, result.message, fields.get("phone"))
        return self._keep(kept, result, deadline, fields)

    def _authenticated(
        self,
        source: Source,
        request: WebhookRequest,
        credentials: Credentials,
        deadline: Deadline,
        fields: Fields,
        *,
        dry_run: bool,
    ) -> Result:
        """An authenticated request's result; raises as `handle` says."""
        read = functools.cache(lambda: source.read(request))
        # After authentication (only the sender decides what it sends), before the body is read where the event is
        # named outside it: another event in a format the route does not read is ignored, not refused.
        if not source.accepts(request, read):
            if dry_run:
                return _dry_run(outcomes.IGNORED, fields, success=True, phone=None, known=False)
            return Result(outcomes.IGNORED, fields=fields)
        payload = read()
        delivery_id = normalized(source.delivery_id(request, payload))
        keys = self._phone_keys()  # read once: they key the records and the logged id
        fields["delivery_id"] = loggable(delivery_id, keys[0])
        acknowledges_refusals = source.acknowledges_refusals
        try:
            phone = find_phone(source, payload, self._region, fields)
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
        record = self.deduplication.lookup(delivery.phone, as_of=delivery.received_at)  # a replay: as it arrived
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

    def retry(self, queued: QueuedDelivery, deadline: Deadline, fields: Fields, *, keep: bool = False) -> Result:
        """A queued delivery, forwarded again under the same deduplication; raises a WebhookError to retry it later.
        With `keep` (the retry queue's path, where no webhook keeps it), a phone the gateway refuses is kept."""
        fields.update(source=queued.source, phone=mask(queued.phone))
        if not deadline.fits(SECRET, then=CLAIM):
            raise OutOfTimeError("too little time is left in this invocation; the message waits")
        credentials = self._credentials.load()
        keys = self._phone_keys()
        fields.update(delivery_id=loggable(queued.delivery_id, keys[0]), phone_ref=phone_ref(queued.phone, keys[0]))
        result = self._forward_once(
            queued, credentials.api_key, keys, deadline, fields, queue=False, replay=queued.replay
        )
        if keep and result.outcome.kept and self._refusals is not None:
            from owner_webhook.refusals import KeptRefusal

            kept = KeptRefusal.queued(queued, result.outcome, result.message, fields["phone"])
            return self._keep(kept, result, deadline, fields)
        return result

    def replay(self, kept: KeptRefusal, deadline: Deadline, fields: Fields, *, dry_run: bool = False) -> Result:
        """A kept refusal run again through today's recipe and settings as the same delivery (its delivery id), its
        authentication not checked again (it was when it arrived). Refused again, it is kept again with its new
        reason; a dry run says what would happen. Raises a WebhookError, and the refusal stays kept as it was."""
        source = self.source(kept.source)
        keys = self._phone_keys()
        fields.update(source=source.name, delivery_id=loggable(kept.delivery_id, keys[0]))
        try:
            request = kept.request
            if request is not None and not source.accepts(request, functools.cache(lambda: source.read(request))):
                # Today's event filter no longer takes it: nothing is sent (and the refusal stays kept).
                if dry_run:
                    return _dry_run(outcomes.IGNORED, fields, success=True, phone=None, known=False)
                return Result(outcomes.IGNORED, fields=fields)
            phone = self._phone_again(source, kept, fields)
        except (RefusedError, MalformedBodyError, UnsupportedMediaTypeError) as refusal:
            if dry_run:
                return _dry_run(refusal.outcome, fields, success=False, phone=None, known=False)
            again = kept.again(source, refusal.outcome, refusal.message, None)
            return self._keep(again, Result(refusal.outcome, refusal.message), deadline, fields)
        fields.update(phone=mask(phone), phone_ref=phone_ref(phone, keys[0]))
        delivery = QueuedDelivery(source.name, kept.delivery_id, phone, kept.received_at)
        if dry_run:
            return self._dry_run(delivery, keys[0], deadline, fields)
        if self._queue_every_delivery:  # only the queue's event source may forward: the gateway's ceiling
            self._queue_only(delivery._replace(replay=True), deadline, fields)
            return Result(outcomes.QUEUED, fields=fields)
        if not deadline.fits(SECRET, then=CLAIM):
            raise OutOfTimeError("too little time is left in this invocation; replay it again")
        api_key = self._credentials.load().api_key
        result = self._forward_once(delivery, api_key, keys, deadline, fields, queue=False, replay=True)
        if not result.outcome.kept:
            return result
        return self._keep(kept.again(source, result.outcome, result.message, fields["phone"]), result, deadline, fields)

    def _phone_again(self, source: Source, kept: KeptRefusal, fields: Fields) -> str:
        """The phone today's recipe and settings read from the kept body, or the kept phone of a queued delivery."""
        request = kept.request
        if request is not None:
            return find_phone(source, source.read(request), self._region, fields)
        if kept.e164 is None:
            raise MalformedMessageError("the kept refusal holds neither a body nor a phone")
        return kept.e164

    def _keep(self, kept: KeptRefusal, result: Result, deadline: Deadline, fields: Fields) -> Result:
        """The result, its refusal kept when the store takes it in time: the answer is the same either way."""
        from owner_webhook.refusals import Kept

        if self._refusals is None:
            return result
        try:
            done = self._refusals().keep(kept, self._phone_keys()[0], deadline)  # the key names it
        except WebhookError as error:  # the phone key could not be read
            done = Kept("", error.code)
        if done.problem is None:
            fields["refusal_kept"] = done.name
            return result
        fields["refusal_not_kept"] = done.problem
        return replace(result, also=(*result.also, "RefusalNotKept"))

    def _forward_once(
        self,
        delivery: QueuedDelivery,
        api_key: str,
        keys: Sequence[bytes],
        deadline: Deadline,
        fields: Fields,
        *,
        queue: bool,
        replay: bool = False,
    ) -> Result:
        """Claim the phone, forward it, record the answer (or, with `queue`, queue a transient failure). A `replay`
        of a kept refusal takes over the refusal the table stored for this same delivery: it asks the gateway again.

        Raises InProgressError, OutOfTimeError or DeduplicationUnavailableError before claiming anything,
        and the forward's TransientError after releasing the claim.
        """
        if not deadline.fits(CLAIM):
            raise OutOfTimeError("too little time is left to claim the phone; retry")
        decision = self.deduplication.claim(
            delivery.source,
            delivery.delivery_id,
            delivery.phone,
            deadline,
            keys,
            received_at=delivery.received_at,  # a late one (queued, replayed) as the table knew the phone then
            retake_refusal=replay,
        )
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
            # A delivery later than the table keeps what it knew when the delivery arrived (a redrive of a
            # redriven dead letter): an owner of its phone then may have been forgotten, so this one may be a second.
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


def find_phone(source: Source, payload: Mapping[str, Any], default_region: str, fields: Fields) -> str:
    """The first value of the source's phone places that is a valid number, in E.164 (its place in
    fields["phone_place"]); raises MissingPhoneError, or the first value's InvalidPhoneError when none is valid."""
    region: str | None = None
    refusal: InvalidPhoneError | None = None
    for found in source.phones(payload):
        if region is None:
            region = source.phone_region(payload) or default_region
        try:
            phone = to_e164(found.text, region)
        except InvalidPhoneError as error:  # "Cancellation policy: I agree": the next field named so may hold it
            refusal = refusal or error
            continue
        fields["phone_place"] = found.place
        return phone
    if refusal is not None:
        raise refusal
    raise MissingPhoneError("the payload has no phone field")


def _dry_run(would: outcomes.Outcome, fields: Fields, *, success: bool, phone: str | None, known: bool) -> Result:
    """The answer to a dry run: 200 whatever would happen, and what that is."""
    fields["dry_run_outcome"] = would.code
    details = {"success": success, "outcome": would.code, "phone": phone, "phone_known": known}
    return Result(outcomes.DRY_RUN, fields=fields, details=details)
