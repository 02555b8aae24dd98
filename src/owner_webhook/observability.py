"""The Powertools singletons: structured logs, EMF metrics and (when switched on) X-Ray tracing."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "owner-webhook"
# The log lines carry no thread or process names, so the standard library need not look them
# up for every record (its documented optimization flags).
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
logger = Logger(service=SERVICE)
# The template sets POWERTOOLS_METRICS_NAMESPACE; without it, EMF would refuse to flush at all.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OwnerWebhook", service=SERVICE)

# One metric per outcome, so that an alarm or a dashboard needs no log query.
METRIC_BY_OUTCOME = {
    "owner_created": "OwnerCreated",
    "queued": "Queued",
    "drained": "Drained",
    "dead_lettered": "DeadLettered",
    "retry_later": "RetryLater",
    "malformed_message": "MalformedRequest",
    "duplicate_replayed": "DuplicateReplayed",
    "phone_existing": "PhoneExisting",
    # Counted with the ambiguous forwards: both are the possible duplicates.
    "owner_created_unrecorded": "AmbiguousForward",
    "in_progress": "DuplicateInProgress",
    "missing_phone": "PhoneRefused",
    "invalid_phone": "PhoneRefused",
    "rejected_phone": "PhoneRefused",
    "unauthenticated": "Unauthenticated",
    "malformed_body": "MalformedRequest",
    "unsupported_media_type": "MalformedRequest",
    "payload_too_large": "MalformedRequest",
    "unknown_source": "MalformedRequest",
    "method_not_allowed": "MalformedRequest",
    "not_found": "MalformedRequest",
    "unsupported_event": "MalformedRequest",
    "upstream_unavailable": "UpstreamFailure",
    "upstream_auth": "UpstreamFailure",
    "upstream_ambiguous": "AmbiguousForward",
    "secret_store_unavailable": "DependencyFailure",
    "deduplication_unavailable": "DependencyFailure",
    "misconfigured": "ConfigurationError",
    "invalid_setting": "ConfigurationError",
    "secret_not_found": "ConfigurationError",
    "secret_malformed": "ConfigurationError",
    "api_key_missing": "ConfigurationError",
    "phone_key_malformed": "ConfigurationError",
    "api_key_invalid": "ConfigurationError",
    "webhook_secret_invalid": "ConfigurationError",
    "internal_error": "InternalError",
}


def count_outcome(outcome: str, source: str, also: Iterable[str] = ()) -> None:
    """Add this request's outcome metric, by source (or "unknown") and for all sources together, and the
    metrics in `also` (what else happened: DeliveryIdReused, AmbiguousForward for a queued delivery)."""
    metrics.add_dimension(name="source", value=source)
    metrics.add_dimensions(service=SERVICE)  # the second dimension set: what the alarms watch
    metrics.add_metric(name=METRIC_BY_OUTCOME.get(outcome, "InternalError"), unit=MetricUnit.Count, value=1)
    for name in also:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def also_counted(keys: Mapping[str, Any], failure: str | None = None) -> list[str]:
    """The metrics that a request's log keys (and the worker's failure code) add to its outcome's."""
    extra = ["DeliveryIdReused"] if keys.get("delivery_id_reused") else []
    if keys.get("queued_because") == "upstream_ambiguous" or failure == "upstream_ambiguous":
        extra.append("AmbiguousForward")  # queued or retried: a possible duplicate all the same
    return extra


@functools.cache
def tracing_enabled() -> bool:
    """TRACER_ENABLED=true (template parameter EnableTracer). Read at import, before any settings:
    the X-Ray SDK costs about 100 ms of cold start, so it is not even imported when this is off."""
    return os.environ.get("TRACER_ENABLED", "").strip().lower() == "true"


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def traced_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The Lambda handler, in an X-Ray segment when tracing is on; responses and errors never captured,
    since they carry phone numbers."""
    if not tracing_enabled():
        return handler
    return tracer().capture_lambda_handler(handler, capture_response=False, capture_error=False)


def subsegment(name: str) -> contextlib.AbstractContextManager[Any]:
    """An X-Ray subsegment around a call (the secret fetch, the gateway call) when tracing is on."""
    if not tracing_enabled():
        return _NOTHING
    return tracer().provider.in_subsegment(name)


_NOTHING = contextlib.nullcontext()
