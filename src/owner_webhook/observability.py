"""The Powertools singletons: structured logs and EMF metrics. Lambda's active tracing needs no code here."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, BasePowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from owner_webhook import outcomes
from owner_webhook.outcomes import Result

SERVICE = "owner-webhook"
_PACKAGE = Path(__file__).parent
# The log lines carry no thread or process names, so the standard library need not look them
# up for every record (its documented optimization flags).
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
# The attributes of a record that are not the caller's own keys (3.12 added taskName).
_RECORD = frozenset((*RESERVED_LOG_ATTRS, "taskName"))


class LogLine(BasePowertoolsFormatter):
    """The Logger's JSON line: Powertools' own keys in its order (level, location, message, timestamp, the
    appended keys, the caller's, xray_trace_id), built directly; Powertools' formatter also parses each message
    back as JSON and looks for exception fields and key templates, which cost a third of every line here."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, Any] = {}

    def append_keys(self, **additional_keys: Any) -> None:
        self._keys.update(additional_keys)

    def get_current_keys(self) -> dict[str, Any]:
        return self._keys

    def remove_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._keys.pop(key, None)

    def clear_state(self) -> None:
        self._keys = {}

    # One invocation at a time per process: the thread-safe keys are the same keys.
    thread_safe_append_keys = append_keys
    thread_safe_get_current_keys = get_current_keys
    thread_safe_remove_keys = remove_keys

    def thread_safe_clear_keys(self) -> None:
        self._keys = {}

    def format(self, record: logging.LogRecord) -> str:
        created = time.strftime(f"%Y-%m-%d %H:%M:%S,{int(record.msecs):03d}%z", time.localtime(record.created))
        line = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": created,
            **self._keys,
        }
        line.update((key, value) for key, value in record.__dict__.items() if key not in _RECORD)
        trace = os.environ.get("_X_AMZN_TRACE_ID")  # Lambda's, per invocation, with active tracing
        line["xray_trace_id"] = trace.split(";")[0].removeprefix("Root=") if trace else None
        return json.dumps(
            {key: value for key, value in line.items() if value is not None},
            default=str,
            separators=(",", ":"),
            ensure_ascii=False,
        )


logger = Logger(service=SERVICE, logger_formatter=LogLine())
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
