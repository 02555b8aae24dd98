"""The retry queue's worker: a second Lambda handler, on the SQS queue, with partial batch failures.

Each message is forwarded under the same deduplication key as its webhook (the phone), so a message
SQS delivers twice, a delivery its sender also retried, or another delivery of the same phone, still
creates one owner. A
transient failure goes back to the queue with a growing delay; after MAX_RECEIVE_COUNT receives SQS
moves it to the dead-letter queue. A phone the gateway refuses (400) is logged, counted and dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from owner_webhook import loading

with loading():
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from owner_webhook import answers, delivery
    from owner_webhook.errors import MalformedMessageError, RefusedError, WebhookError
    from owner_webhook.observability import also_counted, count_outcome, logger, metrics, traced_handler
    from owner_webhook.phone import mask
    from owner_webhook.retry_queue import QueuedDelivery, retry_delay
    from owner_webhook.sources import get_source
    from owner_webhook.wiring import deadline_for, prepare, services

    prepare()

# A batch whose every message failed is still a partial batch response, not a function error: the
# per-message delays apply, and the function-errors alarm stays for real errors.
_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# What one message adds to the log line; removed before the next message of the batch.
_RECORD_KEYS = [
    "source",
    "delivery_id",
    "phone",
    "gateway_status",
    "gateway_latency_ms",
    "gateway_attempts",
    "delivery_id_reused",
]


class RetryLaterError(Exception):
    """A message that failed for now: the batch reports it, and SQS delivers it again later."""


@dataclass(frozen=True)
class Drained:
    outcome: str
    status: int
    failure: WebhookError | None = None
    waited_s: float | None = None
    problem: str | None = None  # why a message was dropped


def drain(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Forward one queued delivery; raises RetryLaterError when it must wait for another attempt."""
    started = time.perf_counter()
    logger.remove_keys(_RECORD_KEYS)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    result = _forward(record, lambda_context, receive_count)
    keys = logger.get_current_keys()
    failure = result.failure.code if result.failure else None
    count_outcome(result.outcome, str(keys.get("source", "unknown")), also_counted(keys, failure))
    metrics.flush_metrics()  # one EMF record per message: the messages of a batch have different sources
    log = logger.info if result.failure is None else logger.warning
    log(
        "queued delivery handled",
        outcome=result.outcome,
        status=result.status,
        receive_count=receive_count,
        waited_s=result.waited_s,
        failure=result.failure.code if result.failure else None,
        problem=result.failure.message if result.failure else result.problem,
        total_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    if result.failure is not None:
        raise RetryLaterError(result.failure.code)


def _forward(record: SQSRecord, context: LambdaContext, receive_count: int) -> Drained:
    try:
        queued = QueuedDelivery.from_json(record.body)
    except MalformedMessageError as error:
        return Drained(error.code, error.status, problem=error.message)  # not ours: dropped, never retried
    logger.append_keys(source=queued.source, delivery_id=queued.delivery_id, phone=mask(queued.phone))
    waited = round(time.time() - queued.received_at, 1)
    ready = services()  # built (or failed, failing the batch) before the first record
    try:
        source = get_source(ready.sources, queued.source)
        deadline = deadline_for(context, ready)

        def forward_once() -> answers.Answer:
            try:
                delivery.forward(queued.phone, delivery.load_credentials(ready.credentials, deadline), ready, deadline)
            except RefusedError as refusal:  # the gateway's 400: no retry can help
                return answers.refused(refusal, source)  # what the webhook would have answered
            return answers.created()

        result = delivery.once(
            ready.deduplicator, queued.source, queued.delivery_id, queued.phone, forward_once, deadline
        )
    except WebhookError as error:
        if ready.queue is not None:
            ready.queue.delay(record.receipt_handle, retry_delay(receive_count, ready.settings.retry_delay))
        # After its last receive, SQS moves the message to the dead-letter queue instead of delivering it.
        outcome = "dead_lettered" if receive_count >= ready.settings.max_receive_count else "retry_later"
        return Drained(outcome, error.status, error, waited)
    if result.replayed:
        return Drained("duplicate_replayed", result.status, waited_s=waited)
    return Drained("drained" if result.code == answers.CREATED else result.code, result.status, waited_s=waited)


# No log_metrics decorator: each message's metric is flushed on its own (they have different sources),
# which would leave the decorator an empty final flush.
@traced_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    """An SQS batch; returns the ids of the messages to retry (Lambda's partial batch response)."""
    services().deduplicator.register(context)
    return process_partial_response(event=event, record_handler=drain, processor=_processor, context=context)
