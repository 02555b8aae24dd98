"""The one place where outcomes become answers to the sender (SPEC section 6)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from owner_webhook.errors import InProgressError, RefusedError, TransientError, WebhookError
from owner_webhook.sources.base import Source

CREATED = "owner_created"
QUEUED = "queued"
EXISTING = "phone_existing"
# The owner was created but the deduplication table could not record it: a possible duplicate.
CREATED_UNRECORDED = "owner_created_unrecorded"
# Typeform retries a 503 every 2-3 minutes whatever this says; others honour it. One minute lets a
# short gateway blip pass without hammering it.
DEFAULT_RETRY_AFTER = 60


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False  # the stored answer to an earlier delivery of the same id


def created() -> Answer:
    return Answer(200, CREATED, {"success": True})


def existing() -> Answer:
    """The phone's owner was created for an earlier delivery: nothing to do, and nothing for the sender to fix."""
    return Answer(200, EXISTING, {"success": True, "existing": True})


def queued() -> Answer:
    """The gateway failed for now and the delivery waits in the retry queue: the sender is done."""
    return Answer(200, QUEUED, {"success": True, "queued": True})


def refused(error: RefusedError, source: Source) -> Answer:
    """A submission that can never succeed: 422, or 200 for senders that would disable the webhook."""
    status = 200 if source.acknowledges_refusals else error.status
    return Answer(status, error.code, _failure_body(error))


def failed(error: WebhookError) -> Answer:
    """A request that ends before a forward, or a transient failure (503 with Retry-After)."""
    headers = {}
    if isinstance(error, TransientError):
        headers["Retry-After"] = str(error.retry_after or DEFAULT_RETRY_AFTER)
    elif isinstance(error, InProgressError):
        headers["Retry-After"] = str(error.retry_after)
    return Answer(error.status, error.code, _failure_body(error), headers)


def to_lambda(answer: Answer) -> dict[str, Any]:
    """The proxy-integration response; the same form serves REST API, HTTP API and Function URLs."""
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json", **answer.headers},
        "body": json.dumps(answer.body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _failure_body(error: WebhookError) -> dict[str, Any]:
    return {"success": False, "error": {"code": error.code, "message": error.message}}
