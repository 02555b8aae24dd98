"""Small handlers for the Lambda stand-in's own tests: each does what its event asks."""

from __future__ import annotations

import functools
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    if "Records" in event:  # an SQS batch: fail the messages whose body says so
        failed = [record["messageId"] for record in event["Records"] if record["body"] == "fail"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    if event.get("raise"):
        raise ValueError(event["raise"])
    time.sleep(float(event.get("sleep", 0)))
    return {"echo": event, "remaining_ms": context.get_remaining_time_in_millis()}


def crash(event: dict[str, Any], context: Any) -> Any:
    """A forwarder that fails before it answers (a bug, or its instance ran out of memory)."""
    raise RuntimeError("crashed")


def hang(event: dict[str, Any], context: Any) -> Any:
    """A forwarder that does not answer in the time it was given."""
    time.sleep(float(event.get("seconds", 1)) + 3)
    return {"outcome": "owner_created"}


@functools.cache  # once per instance: the forwarder's own step, broken
def _break_the_forward() -> None:
    from owner_webhook.delivery import DeliveryService

    create = DeliveryService._create

    def create_then_fail(self: DeliveryService, *args: Any) -> Any:
        create(self, *args)
        raise KeyError("a bug")

    DeliveryService._create = create_then_fail  # type: ignore[method-assign]


def forwarder_with_a_bug(event: dict[str, Any], context: Any) -> Any:
    """The forwarder, with a bug its forward meets after the gateway created the owner."""
    from owner_webhook import forwarder

    _break_the_forward()
    return forwarder.lambda_handler(event, context)
