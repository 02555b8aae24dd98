"""The retry queue's worker: a second Lambda handler, on the SQS queue, with partial batch failures.

Each message is forwarded under the same deduplication key as its webhook (the phone), so a message
SQS delivers twice, a delivery its sender also retried, or another delivery of the same phone, still
creates one owner. A transient failure goes back to the queue with a growing delay; after
MAX_RECEIVE_COUNT receives SQS moves it to the dead-letter queue. A phone the gateway refuses (400), and
a message this function did not write, are logged, counted and dropped.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook import outcomes
from owner_webhook.budget import DELAY
from owner_webhook.errors import MalformedMessageError, WebhookError
from owner_webhook.observability import logger, metrics, own_place, report, traced_handler
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
    ready = parts()  # built (or failed, failing the batch) before the first record
    deadline = ready.deadline(context)
    try:
        result = ready.service.retry(queued, deadline, fields)
    except WebhookError as error:
        if ready.queue is not None and deadline.fits_in_reserve(DELAY):
            ready.queue.delay(record.receipt_handle, retry_delay(receive_count, ready.retry_delay))
        fields.update(failure=error.code, problem=error.message)
        # After its last receive, SQS moves the message to the dead-letter queue instead of delivering it.
        last = receive_count >= ready.max_receive_count
        outcome = outcomes.DEAD_LETTERED if last else outcomes.RETRY_LATER
        return Result(outcome, error.message, fields=fields, also=error.outcome.signals)
    if result.outcome == outcomes.OWNER_CREATED and not result.replayed:
        return Result(outcomes.DRAINED, fields=fields, also=result.also)
    return Result(result.outcome, result.message, replayed=result.replayed, fields=fields, also=result.also)


# No log_metrics decorator: each message's metric is flushed on its own (they have different sources),
# which would leave the decorator an empty final flush.
@traced_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    """An SQS batch; returns the ids of the messages to retry (Lambda's partial batch response)."""
    return process_partial_response(event=event, record_handler=drain, processor=_processor, context=context)
