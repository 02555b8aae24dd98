"""The retry queue: a delivery the gateway could not take now waits in SQS for the forwarder.

A message holds the normalized delivery only (source, delivery id, E.164 phone, when it arrived): no
webhook body and no secret.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Collection
from typing import Any, NamedTuple

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from owner_webhook.aws_clients import CLIENT_CONFIG
from owner_webhook.delivery_ids import normalized
from owner_webhook.errors import MalformedMessageError
from owner_webhook.phone import is_e164
from owner_webhook.sources import is_route_name

# SQS allows at most 12 hours of visibility; a retry waits at most this long between attempts.
MAX_DELAY_SECONDS = 900
# The longest SQS keeps a message, counted from when it was first queued, dead-letter queue included.
MAX_RETENTION_SECONDS = 14 * 86_400


class QueuedDelivery(NamedTuple):
    source: str
    delivery_id: str
    phone: str
    received_at: float
    # A kept refusal replayed (make replay-refused, with QueueEveryDelivery): its own stored refusal is asked
    # again, as a replay forwarded at once asks it.
    replay: bool = False

    def to_json(self) -> str:
        fields = self._asdict()
        if not self.replay:  # said only when true: a message as earlier versions wrote and read it
            del fields["replay"]
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> QueuedDelivery:
        """Checked as strictly as a request; raises MalformedMessageError for what this function did not write."""
        try:
            fields = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedMessageError("the message is not JSON") from None
        return cls.from_fields(fields)

    @classmethod
    def from_fields(cls, fields: object) -> QueuedDelivery:
        """A delivery from its fields (a message's JSON, or the webhook's forward); raises MalformedMessageError."""
        if not isinstance(fields, dict):
            raise MalformedMessageError("the message is not a JSON object")
        source, delivery_id, phone, received_at = (
            fields.get(k) for k in ("source", "delivery_id", "phone", "received_at")
        )
        # A route's name, not necessarily one served now: a delivery queued before its recipe was renamed or
        # removed is still a signup, and forwarding it needs only its phone (already read and normalized).
        if not isinstance(source, str) or not is_route_name(source):
            raise MalformedMessageError("the message names no source")
        if not isinstance(delivery_id, str) or not delivery_id:
            raise MalformedMessageError("the message has no delivery id")
        if not isinstance(phone, str) or not is_e164(phone):
            raise MalformedMessageError("the message's phone is not a valid E.164 number")
        if not isinstance(received_at, int | float) or isinstance(received_at, bool) or not _finite(received_at):
            raise MalformedMessageError("the message's received_at is not a time")
        replay = fields.get("replay", False)
        if not isinstance(replay, bool):
            raise MalformedMessageError("the message's replay is not true or false")
        # The webhook wrote the id normalized already: normalizing it again changes only what it did not write.
        return cls(source, normalized(delivery_id), phone, float(received_at), replay)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def retry_delay(receive_count: int, base: int) -> int:
    """Growing delays between attempts: base, 2x, 4x, ... up to MAX_DELAY_SECONDS."""
    return int(min(MAX_DELAY_SECONDS, base * 2 ** max(0, receive_count - 1)))


class RetryQueue:
    def __init__(self, url: str, sources: Collection[str] | None, session: boto3.session.Session | None = None) -> None:
        self.url = url
        self._sources = sources  # None: every source
        self._session = session or boto3.session.Session()
        self._client: Any = None  # built on first use: a healthy gateway never needs it

    def takes(self, source: str) -> bool:
        return self._sources is None or source in self._sources

    def put(self, delivery: QueuedDelivery) -> bool:
        """Queue the delivery; False if SQS could not take it."""
        try:
            self._sqs().send_message(QueueUrl=self.url, MessageBody=delivery.to_json())
        except (BotoCoreError, ClientError):
            return False
        return True

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again only after `seconds` (best effort)."""
        # If this fails, the queue's own visibility timeout applies instead.
        with contextlib.suppress(BotoCoreError, ClientError):
            self._sqs().change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )

    def _sqs(self) -> Any:
        if self._client is None:
            self._client = self._session.client("sqs", config=CLIENT_CONFIG)
        return self._client


def received_now() -> float:
    return round(time.time(), 3)
