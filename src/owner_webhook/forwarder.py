"""The forwarder function: the only function that calls the gateway, and the one that drains the retry queue.

Three kinds of invocation: a delivery the webhook hands over (`{"forward": ..., "seconds": ...}`),
forwarded at once and answered; an SQS batch of queued deliveries, with partial batch failures; and a kept
refusal the operator replays (`{"replay": ..., "dry_run": ...}`, `make replay-refused`), answered.
The function's reserved concurrency is the gateway's ceiling in flight, and each instance keeps its
share of the ceiling's rate (pacing.py); an instance the gateway asked to wait (429/503 Retry-After)
forwards nothing until then: it answers the webhook at once (which queues the delivery), and holds
its batch, and its place in the ceiling, for as long as its timeout allows.

Each message is forwarded under the same deduplication key as its webhook (the phone), so a message
SQS delivers twice, a delivery its sender also retried, or another delivery of the same phone, still
creates one owner. A transient failure goes back to the queue with a growing delay; after
MAX_RECEIVE_COUNT receives SQS moves it to the dead-letter queue. A phone the gateway refuses (a 4xx) is
kept (refusals.py) and dropped; a message this function did not write is logged, counted and dropped.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook import outcomes
from owner_webhook.budget import DELAY, MIN_FORWARD_SECONDS, REPLY_SECONDS
from owner_webhook.errors import (
    AtCeilingError,
    ConfigurationError,
    ForwarderUnavailableError,
    MalformedMessageError,
    TransientError,
    UpstreamAmbiguousError,
    WebhookError,
)
from owner_webhook.forwarder_client import answered, failed
from owner_webhook.observability import logger, metrics, own_place, report
from owner_webhook.outcomes import Result
from owner_webhook.retry_queue import QueuedDelivery, retry_delay
from owner_webhook.wiring import parts

# A batch whose every message failed is still a partial batch response, not a function error: the
# per-message delays apply, and the function-errors alarm stays for real errors.
_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class RetryLaterError(Exception):
    """A message that failed for now: the batch reports it, and SQS delivers it again later."""


def drain(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Forward one queued delivery; raises RetryLaterError when it must wait for another attempt."""
    started = time.perf_counter()
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        result = _handle(record, lambda_context, receive_count)
    except Exception as error:  # a bug: logged and counted as one, and the message retried (nothing is lost)
        fields = {"failure": outcomes.INTERNAL_ERROR.code, "error_type": type(error).__name__}
        fields["error_place"] = own_place(error)
        result = Result(outcomes.INTERNAL_ERROR, "the message could not be handled; retry later", fields=fields)
    report(
        result,
        "queued delivery handled",
        receive_count=receive_count,
        total_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    metrics.flush_metrics()  # one EMF record per message: the messages of a batch have different sources
    if result.outcome in (outcomes.RETRY_LATER, outcomes.DEAD_LETTERED, outcomes.INTERNAL_ERROR):
        raise RetryLaterError(result.fields["failure"])


def _handle(record: SQSRecord, context: LambdaContext, receive_count: int) -> Result:
    try:
        queued = QueuedDelivery.from_json(record.body)
    except MalformedMessageError as error:  # not ours: dropped, never retried
        return Result(error.outcome, error.message, fields={"problem": error.message})
    fields: dict[str, Any] = {"waited_s": round(time.time() - queued.received_at, 1)}
    try:
        ready = parts()
    except ConfigurationError as error:  # deployed wrong: every message waits for the fix (SQS delivers it again)
        fields.update(source=queued.source, failure=error.code, problem=error.message)
        return Result(outcomes.RETRY_LATER, error.message, fields=fields, also=_counted(error))
    deadline = ready.deadline(context)
    try:
        paused = ready.paused()
        if paused and paused > deadline.forward_by - time.monotonic() - MIN_FORWARD_SECONDS:  # no turn in time
            raise AtCeilingError("the gateway asked to wait; the message waits", retry_after=math.ceil(paused))
        result = ready.service.retry(queued, deadline, fields, keep=True)
    except WebhookError as error:
        if ready.queue is not None and deadline.fits_in_reserve(DELAY):
            # A message held back by the instance's pause waits at least for the pause's end.
            asked = error.retry_after if isinstance(error, AtCeilingError) and error.retry_after else 0
            ready.queue.delay(record.receipt_handle, max(retry_delay(receive_count, ready.retry_delay), asked))
        fields.update(failure=error.code, problem=error.message)
        # After its last receive, SQS moves the message to the dead-letter queue instead of delivering it.
        last = receive_count >= ready.max_receive_count
        outcome = outcomes.DEAD_LETTERED if last else outcomes.RETRY_LATER
        return Result(outcome, error.message, fields=fields, also=_counted(error))
    if result.outcome == outcomes.OWNER_CREATED and not result.replayed:
        return Result(outcomes.DRAINED, fields=fields, also=result.also)
    return Result(result.outcome, result.message, replayed=result.replayed, fields=fields, also=result.also)


def _counted(error: WebhookError) -> tuple[str, ...]:
    """The metrics a message that failed carries beside RetryLater or DeadLettered: its failure's signals, and
    ConfigurationError for a function deployed wrong (a setting, the secret), as the webhook counts it."""
    if isinstance(error, ConfigurationError):
        return (error.outcome.metric, *error.outcome.signals)
    return error.outcome.signals


def forward(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A delivery the webhook hands over: forwarded within the seconds it was given, or refused at once
    while the gateway has asked this instance to wait. The answer is the result, or the failure (forwarder.py);
    the webhook logs and counts it, so nothing is logged here."""
    fields: dict[str, Any] = {}
    try:
        queued = QueuedDelivery.from_fields(event.get("forward"))
        seconds = float(event.get("seconds", 0))
        if not 0 < seconds < math.inf:
            raise MalformedMessageError("the forward names no time")
        ready = parts()
        paused = ready.paused()
        if paused:
            raise AtCeilingError("the gateway asked to wait; the delivery waits", retry_after=math.ceil(paused))
        result = ready.service.retry(queued, ready.deadline(context, within=seconds), fields)
    except MalformedMessageError as error:  # another version's request (mid-deployment): nothing was forwarded
        return failed(ForwarderUnavailableError(error.message), fields)
    except WebhookError as error:
        return failed(error, fields)
    except Exception as error:  # a bug, perhaps after the gateway's 200: the webhook queues it as a possible duplicate
        fields.update(error_type=type(error).__name__, error_place=own_place(error))
        return failed(UpstreamAmbiguousError("the forwarder failed mid-forward; it may have created the owner"), fields)
    return answered(result, fields)


def replay(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A kept refusal the operator runs again: through today's recipe and settings as the same delivery, its
    authentication not checked again. No webhook answers it, so it is logged and counted here; the answer is
    the result, or the failure (the refusal then stays kept as it was)."""
    started = time.perf_counter()
    fields: dict[str, Any] = {}
    dry_run = event.get("dry_run", False) is not False  # anything but false is a dry run: never forwarded by mistake
    try:
        from owner_webhook.refusals import KeptRefusal  # never on the way to an owner

        kept = KeptRefusal.from_fields(event.get("replay"))
        ready = parts()
        paused = ready.paused()
        if paused and not dry_run:
            raise AtCeilingError("the gateway asked to wait; replay it later", retry_after=math.ceil(paused))
        result = ready.service.replay(kept, ready.deadline(context), fields, dry_run=dry_run)
        answer = answered(result, fields)
    except WebhookError as error:
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        result = Result(error.outcome, error.message, retry_after=retry_after, also=error.outcome.signals)
        answer = failed(error, fields)
    except Exception as error:  # a bug: logged and counted as one; the refusal stays kept
        fields.update(error_type=type(error).__name__, error_place=own_place(error))
        result = Result(outcomes.INTERNAL_ERROR, "the replay could not be handled; it stays kept")
        answer = failed(WebhookError(str(result.message)), fields)
    total_ms = round((time.perf_counter() - started) * 1000, 2)
    report(replace(result, fields=fields), "kept refusal replayed", dry_run=dry_run, total_ms=total_ms)
    metrics.flush_metrics()
    return answer


def _hold_while_paused(records: list[Any], context: LambdaContext) -> None:
    """An instance the gateway asked to wait keeps its batch, and its place in the ceiling, until the
    wait is over (or only time enough is left to put each message back with its delay)."""
    try:
        paused = parts().paused()
    except WebhookError:
        return  # each message fails on its own, and says why
    spare = context.get_remaining_time_in_millis() / 1000 - REPLY_SECONDS - len(records) * DELAY.seconds
    if paused and spare > 0:
        time.sleep(min(paused, spare))


def _hold_while_in_flight(context: LambdaContext) -> None:
    """An instance whose call is still in flight at the gateway (its answer no longer waited for) keeps its
    invocation, and so its place in the reserved concurrency, until the call is assumed over: else Lambda
    could give that place to another instance, and the gateway would have more than the ceiling in flight.
    Every forward ends early enough for this (Parts.deadline); the answer comes that much later."""
    try:
        in_flight = parts().in_flight()
    except WebhookError:
        return
    spare = context.get_remaining_time_in_millis() / 1000 - REPLY_SECONDS
    if in_flight and spare > 0:
        time.sleep(min(in_flight, spare))


# No log_metrics decorator: each message's metric is flushed on its own (they have different sources),
# which would leave the decorator an empty final flush.
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    """A delivery from the webhook (its answer), a kept refusal replayed (its answer), or an SQS batch (the ids
    of the messages to retry: Lambda's partial batch response)."""
    try:
        if isinstance(event, dict) and "forward" in event:
            return forward(event, context)
        if isinstance(event, dict) and "replay" in event:
            return replay(event, context)
        if isinstance(event, dict) and isinstance(event.get("Records"), list):
            _hold_while_paused(event["Records"], context)
        return process_partial_response(event=event, record_handler=drain, processor=_processor, context=context)
    finally:
        _hold_while_in_flight(context)
