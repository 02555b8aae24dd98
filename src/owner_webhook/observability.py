"""The Powertools singletons: structured logs and EMF metrics, shared by every module."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="owner-webhook")
# The template sets POWERTOOLS_METRICS_NAMESPACE; without it, EMF would refuse to flush at all.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OwnerWebhook")

# One metric per outcome, so that an alarm or a dashboard needs no log query.
METRIC_BY_OUTCOME = {
    "owner_created": "OwnerCreated",
    "duplicate_replayed": "DuplicateReplayed",
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
    "upstream_unavailable": "UpstreamFailure",
    "upstream_auth": "UpstreamFailure",
    "upstream_ambiguous": "AmbiguousForward",
    "secret_store_unavailable": "DependencyFailure",
    "deduplication_unavailable": "DependencyFailure",
    "invalid_setting": "ConfigurationError",
    "secret_not_found": "ConfigurationError",
    "secret_malformed": "ConfigurationError",
    "api_key_missing": "ConfigurationError",
    "internal_error": "InternalError",
}


def count_outcome(outcome: str, source: str) -> None:
    """Add this request's outcome metric, with the source (or "unknown") as its dimension."""
    metrics.add_dimension(name="source", value=source)
    metrics.add_metric(name=METRIC_BY_OUTCOME.get(outcome, "InternalError"), unit=MetricUnit.Count, value=1)
