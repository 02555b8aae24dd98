"""The Powertools singletons: structured logs and EMF metrics. Lambda's active tracing needs no code here."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from owner_webhook import outcomes
from owner_webhook.outcomes import Result

SERVICE = "owner-webhook"
_PACKAGE = Path(__file__).parent
# The log lines carry no thread or process names, so the standard library need not look them
# up for every record (its documented optimization flags).
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
logger = Logger(service=SERVICE)
# The template sets POWERTOOLS_METRICS_NAMESPACE; without it, EMF would refuse to flush at all.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OwnerWebhook", service=SERVICE)


def report(result: Result, message: str, **extra: Any) -> None:
    """The one log line and the metrics of a result (a webhook request, or a queued message).

    One metric per outcome (outcomes.py), by source (or "unknown") and for all sources together, so that
    an alarm or a dashboard needs no log query; and the result's `also` metrics beside it.
    """
    metrics.add_dimension(name="source", value=str(result.fields.get("source", "unknown")))
    metrics.add_dimensions(service=SERVICE)  # the second dimension set: what the alarms watch
    outcome = outcomes.DUPLICATE_REPLAYED if result.replayed else result.outcome
    for name in dict.fromkeys((outcome.metric, *result.also)):  # each once: a signal may be the outcome's own
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    keys: dict[str, Any] = {**result.fields, "outcome": outcome.code}
    if result.replayed:
        keys["replayed_outcome"] = result.code
    if result.status >= 500 and result.message:  # what to fix or wait for; never personal data
        keys["problem"] = result.message
    log = logger.info if result.status < 400 else logger.warning if result.status < 500 else logger.error
    log(message, **keys, status=result.status, **extra, stacklevel=3)  # the location: the entry point


def own_place(error: BaseException) -> str:
    """The innermost frame of this package the error passed through (not the library it was raised in)."""
    place = "?"
    trace = error.__traceback__
    while trace is not None:
        path = Path(trace.tb_frame.f_code.co_filename)
        if path.is_relative_to(_PACKAGE):
            place = f"{path.relative_to(_PACKAGE.parent)}:{trace.tb_lineno}"
        trace = trace.tb_next
    return place
