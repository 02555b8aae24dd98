"""The Lambda entry point: the route, and the one place where errors become HTTP answers.

The event itself is read in request.py, the one module that knows its three shapes.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook import outcomes
from owner_webhook.errors import MethodNotAllowedError, RouteNotFoundError, TransientError, WebhookError
from owner_webhook.observability import logger, metrics, own_place, report
from owner_webhook.outcomes import Result
from owner_webhook.request import is_dry_run, method_and_path
from owner_webhook.sources import registry
from owner_webhook.wiring import parts

ROUTE = re.compile(r"^/webhooks/(?P<source>[^/]+)/?$")


def route(event: dict[str, Any]) -> str:
    """The source named by a POST to /webhooks/{source}; raises WebhookError for anything else."""
    method, path, request_id = method_and_path(event)
    logger.set_correlation_id(request_id)
    found = ROUTE.match(path)
    if found is None:
        raise RouteNotFoundError("POST webhooks to /webhooks/{source}")
    if method != "POST":
        raise MethodNotAllowedError("webhooks are delivered with POST")
    return found["source"]


def _never_retries(name: str | None) -> bool:
    """Whether the route's sender never retries a failed delivery: a 5xx to it is likely a lost signup."""
    source = registry().get(name or "")
    return source is not None and not source.retries


def answer(event: dict[str, Any], context: LambdaContext) -> Result:
    """The result of any invocation: the one place where errors become answers."""
    fields: dict[str, Any] = {}
    name = None
    try:
        name = route(event)
        ready = parts()
        return ready.service.handle(ready.service.source(name), event, ready.deadline(context), fields)
    except WebhookError as error:
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        result = Result(
            error.outcome, error.message, retry_after=retry_after, fields=fields, also=error.outcome.signals
        )
    except Exception as error:
        # The message may quote the payload, so only the type and the place are logged.
        fields.update(error_type=type(error).__name__, error_place=own_place(error))
        result = Result(outcomes.INTERNAL_ERROR, "the request could not be handled; retry later", fields=fields)
    # Nobody will send it again; a dry run carries no signup to lose.
    if result.status >= 500 and _never_retries(name) and not is_dry_run(event):
        return replace(result, also=(*result.also, "LikelyLost"))
    return result


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    result = answer(event, context)
    report(result, "webhook answered", total_ms=round((time.perf_counter() - started) * 1000, 2))
    return result.to_lambda()
