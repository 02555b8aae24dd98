"""The Lambda entry point: routes, and the one place where errors become HTTP answers."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from owner_webhook import answers, delivery
from owner_webhook.credentials import CredentialStore
from owner_webhook.deduplication import Deduplicator, DynamoDBDeduplication, NoDeduplication
from owner_webhook.errors import (
    ConfigurationError,
    InternalError,
    MethodNotAllowedError,
    RouteNotFoundError,
    TransientError,
    UnsupportedEventError,
    WebhookError,
)
from owner_webhook.gateway import GatewayClient
from owner_webhook.observability import count_outcome, logger, metrics, traced_handler
from owner_webhook.settings import load_settings
from owner_webhook.sources import registry

ROUTE = "/webhooks/<source>"
# Time kept back from the Lambda timeout to store the answer and reply after the forward.
FINISH_SECONDS = 1.0


@functools.cache
def services() -> delivery.Services:
    """Built on first use and kept while the function is warm; raises SettingError."""
    settings = load_settings()
    return delivery.Services(
        settings=settings,
        credentials=CredentialStore(settings.api_key_secret_id, settings.secret_max_age),
        gateway=GatewayClient(settings.owner_url, settings.gateway_connect_timeout, settings.gateway_read_timeout),
        sources=registry(settings),
        deduplicator=_deduplicator(settings.idempotency_table, settings.idempotency_ttl),
    )


def _deduplicator(table: str | None, ttl: int) -> Deduplicator:
    return DynamoDBDeduplication(table, ttl) if table else NoDeduplication()


def _deadline(context: LambdaContext, budget: float) -> float:
    """When the forward must be over: within its budget and within the Lambda's remaining time."""
    remaining = context.get_remaining_time_in_millis() / 1000 - FINISH_SECONDS
    return time.monotonic() + max(0.1, min(budget, remaining))


def _answer(answer: answers.Answer) -> Response[str]:
    if answer.replayed:
        logger.append_keys(outcome="duplicate_replayed", replayed_outcome=answer.code)
    else:
        logger.append_keys(outcome=answer.code)
    return answers.to_response(answer)


def _build(app: ApiGatewayResolver) -> ApiGatewayResolver:
    @app.post(ROUTE)
    def receive(source: str) -> Response[str]:
        ready = services()
        ready.deduplicator.register(app.lambda_context)
        deadline = _deadline(app.lambda_context, ready.settings.forward_budget)
        return _answer(delivery.receive(source, app.current_event, ready, deadline))

    @app.route(ROUTE, method=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    def wrong_method(source: str) -> Response[str]:
        raise MethodNotAllowedError("webhooks are delivered with POST")

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        return _answer(answers.failed(RouteNotFoundError("POST webhooks to /webhooks/{source}")))

    def refuse(error: WebhookError) -> Response[str]:
        if isinstance(error, ConfigurationError | TransientError):
            logger.append_keys(problem=error.message)
        return _answer(answers.failed(error))

    def crash(error: Exception) -> Response[str]:
        # The message may quote the payload, so only the type and the place are logged.
        trace = error.__traceback__
        while trace is not None and trace.tb_next is not None:
            trace = trace.tb_next
        place = f"{trace.tb_frame.f_code.co_filename}:{trace.tb_lineno}" if trace else "?"
        logger.append_keys(error_type=type(error).__name__, error_place=place)
        return _answer(answers.failed(InternalError("the request could not be handled; retry later")))

    # Powertools' decorator is untyped; registering by call keeps the functions typed.
    app.exception_handler(WebhookError)(refuse)
    app.exception_handler(Exception)(crash)
    return app


# HTTP API payload 2.0 and Function URL events share one shape; REST API (and HTTP API 1.0) the other.
_V2 = _build(APIGatewayHttpResolver())
_V1 = _build(APIGatewayRestResolver())


@traced_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        app = _V2 if event.get("version") == "2.0" else _V1
        response = app.resolve(event, context)
    except (KeyError, TypeError, AttributeError, ValueError):
        # Raised while reading the event, before any route ran: not a request this function can serve.
        answer = answers.failed(UnsupportedEventError("expected an API Gateway or Function URL request event"))
        logger.append_keys(outcome=answer.code)
        response = {
            "statusCode": answer.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(answer.body),
        }
    keys = logger.get_current_keys()
    count_outcome(str(keys.get("outcome", "internal_error")), str(keys.get("source", "unknown")))
    status = response.get("statusCode", 0)
    log: Callable[..., None] = logger.info if status < 400 else logger.warning if status < 500 else logger.error
    log("webhook answered", status=status, total_ms=round((time.perf_counter() - started) * 1000, 2))
    return response
