"""The Lambda entry point: the route, and the one place where errors become HTTP answers.

The three event shapes (HTTP API 2.0, Function URL, REST API 1.0) are read here, field by field.
Powertools' resolver and event data classes are not used for that: the resolver cost 30 ms of cold
start for one route (it imports every resolver, AppSync and asyncio included) and a tenth of the warm
overhead; the data classes cost 8.5 ms (their package imports all 40 event types) for five fields.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from owner_webhook import loading

with loading():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from owner_webhook import answers, delivery
    from owner_webhook.errors import (
        ConfigurationError,
        InternalError,
        MethodNotAllowedError,
        RouteNotFoundError,
        TransientError,
        UnsupportedEventError,
        WebhookError,
    )
    from owner_webhook.observability import also_counted, count_outcome, logger, metrics, traced_handler
    from owner_webhook.wiring import deadline_for, prepare, services

    prepare()

ROUTE = re.compile(r"^/webhooks/(?P<source>[^/]+)/?$")
_PACKAGE = Path(__file__).parent


def _method_and_path(event: dict[str, Any]) -> tuple[str, str]:
    """The request's method and path (and the log's correlation id: API Gateway's request id).

    HTTP API 2.0 and Function URL events carry them in requestContext.http and rawPath, REST API 1.0
    events in httpMethod and path. Raises UnsupportedEventError.
    """
    if not isinstance(event, dict):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event")
    if "type" in event or "routeArn" in event or "methodArn" in event:
        # An authorizer's event (HTTP API or REST, TOKEN or REQUEST) has a method, a path and a request
        # id too, but it asks whether to let a request in: it is not the request.
        raise UnsupportedEventError("expected a request event, not an authorizer's")
    try:
        if event.get("version") == "2.0":
            method, path = event["requestContext"]["http"]["method"], event["rawPath"]
        else:
            method, path = event["httpMethod"], event["path"]
        request_id = event["requestContext"]["requestId"]
    except (KeyError, TypeError, AttributeError):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event") from None
    if not isinstance(method, str) or not isinstance(path, str) or not isinstance(request_id, str):
        raise UnsupportedEventError("expected an API Gateway or Function URL request event")
    logger.set_correlation_id(request_id)
    return method.upper(), path


def receive(event: dict[str, Any], context: LambdaContext) -> answers.Answer:
    """Route the request to the delivery; raises WebhookError for anything answered before or instead."""
    method, path = _method_and_path(event)
    route = ROUTE.match(path)
    if route is None:
        raise RouteNotFoundError("POST webhooks to /webhooks/{source}")
    if method != "POST":
        raise MethodNotAllowedError("webhooks are delivered with POST")
    ready = services()
    ready.deduplicator.register(context)
    return delivery.receive(route["source"], event, ready, deadline_for(context, ready))


def answer(event: dict[str, Any], context: LambdaContext) -> answers.Answer:
    """The answer to any invocation: the one place where errors become answers."""
    try:
        result = receive(event, context)
    except WebhookError as error:
        if isinstance(error, ConfigurationError | TransientError):
            logger.append_keys(problem=error.message)
        result = answers.failed(error)
    except Exception as error:
        # The message may quote the payload, so only the type and the place are logged.
        logger.append_keys(error_type=type(error).__name__, error_place=_own_place(error))
        result = answers.failed(InternalError("the request could not be handled; retry later"))
    if result.replayed:
        logger.append_keys(outcome="duplicate_replayed", replayed_outcome=result.code)
    else:
        logger.append_keys(outcome=result.code)
    return result


def _own_place(error: BaseException) -> str:
    """The innermost frame of this package the error passed through (not the library it was raised in)."""
    place = "?"
    trace = error.__traceback__
    while trace is not None:
        path = Path(trace.tb_frame.f_code.co_filename)
        if path.is_relative_to(_PACKAGE):
            place = f"{path.relative_to(_PACKAGE.parent)}:{trace.tb_lineno}"
        trace = trace.tb_next
    return place


@traced_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    result = answer(event, context)
    keys = logger.get_current_keys()
    count_outcome(str(keys["outcome"]), str(keys.get("source", "unknown")), also_counted(keys))
    log: Callable[..., None] = (
        logger.info if result.status < 400 else logger.warning if result.status < 500 else logger.error
    )
    log("webhook answered", status=result.status, total_ms=round((time.perf_counter() - started) * 1000, 2))
    return answers.to_lambda(result)
