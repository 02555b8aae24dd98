"""One owner per phone, one answer per delivery: Powertools Idempotency on DynamoDB (SPEC section 7).

A record's key is an HMAC of the E.164 phone under the deployment's own key (PHONE_KEY_SECRET_ID): the
table never holds a phone, nor a hash of one that anybody could compute. With the phone memory on
(PHONE_DEDUPLICATION_SECONDS), the key is the phone alone, kept that long, so any later delivery of the
phone, from any source, finds its owner. With it off, the key is the phone with the source and the
delivery id, kept IDEMPOTENCY_TTL_SECONDS. Either way a delivery id reused for another phone is another
key: that phone is forwarded as the new signup it is, and a small record per delivery id tells that it
happened.

Stored with the answer (owner created, or the gateway's refusal) is which delivery gave it. The same
delivery again gets that answer replayed; another delivery of a phone that has its owner is answered
`existing`; another delivery of a refused phone is forwarded again (a refusal marks no owner). A
transient failure, queued or not, raises inside Powertools, which deletes the record: no owner yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from owner_webhook import outcomes
from owner_webhook.budget import AWS_CONFIG, Deadline
from owner_webhook.errors import DeduplicationUnavailableError, InProgressError
from owner_webhook.outcomes import Result

Work = Callable[[], Result]
_STORED = {outcomes.OWNER_CREATED, outcomes.REJECTED_PHONE}  # final answers; anything else is not an owner
# Fixed key prefixes keep the keys stable when this module is renamed or moved.
_PHONE_PREFIX, _DELIVERY_PREFIX, _ID_PREFIX = "owner-webhook-phone", "owner-webhook-delivery", "owner-webhook-id"


@dataclass
class Notes:
    """What one call of `once` found out besides its result: for the log line and the metrics."""

    result: Result | None = None  # what the work returned, when this call ran it
    failure: Exception | None = None  # what the work raised, when this call ran it
    reused_id: bool = False  # the delivery id came before with another phone
    unrecorded: bool = False  # the work ended but its result could not be stored


class Deduplicator(Protocol):
    def expire_with(self, context: LambdaContext) -> None:
        """Tell the store how long this invocation may run (an in-flight record expires with it)."""

    def once(self, source: str, delivery_id: str, phone: str, work: Work, notes: Notes, deadline: Deadline) -> Result:
        """The result of `work`, run at most once per phone (or per phone and delivery) while the record lives.

        Raises InProgressError, DeduplicationUnavailableError, and whatever `work` raises.
        """


class NoDeduplication:
    """IDEMPOTENCY_TABLE unset: every delivery is forwarded."""

    def expire_with(self, context: LambdaContext) -> None:
        pass

    def once(self, source: str, delivery_id: str, phone: str, work: Work, notes: Notes, deadline: Deadline) -> Result:
        notes.result = work()
        return notes.result


class _Unstored(Exception):  # noqa: N818 - a signal, not an error: the answer must not be kept
    pass


class DynamoDBDeduplication:
    def __init__(
        self,
        table_name: str,
        *,
        delivery_window: int,
        phone_memory: int,
        phone_key: Callable[[], bytes],
        session: boto3.session.Session | None = None,
    ) -> None:
        self._table = table_name
        self._phone_key = phone_key
        self._by_phone = phone_memory > 0
        self._delivery_window = delivery_window
        self._config = IdempotencyConfig(
            expires_after_seconds=phone_memory if self._by_phone else delivery_window,
            raise_on_no_idempotency_key=True,
        )
        self._client = (session or boto3.session.Session()).client("dynamodb", config=AWS_CONFIG)
        self._layer = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=self._client)
        self._run_once = idempotent_function(
            data_keyword_argument="key",
            persistence_store=self._layer,
            config=self._config,
            key_prefix=_PHONE_PREFIX if self._by_phone else _DELIVERY_PREFIX,
        )(_run)

    def expire_with(self, context: LambdaContext) -> None:
        self._config.register_lambda_context(context)

    def once(self, source: str, delivery_id: str, phone: str, work: Work, notes: Notes, deadline: Deadline) -> Result:
        phone_key = self._phone_key()
        phone_id = hmac.new(phone_key, phone.encode(), hashlib.sha256).hexdigest()
        # Keyed too: a delivery id may be the phone itself, or the hash of a body that is only the phone.
        delivery = hmac.new(phone_key, f"{source}\0{delivery_id}".encode(), hashlib.sha256).hexdigest()
        key = {"phone": phone_id} if self._by_phone else {"phone": phone_id, "delivery": delivery}

        def noted_work() -> Result:
            if deadline.fits_aws_call(calls=2):  # the note, and the claim's final write after it
                notes.reused_id = self._reused(delivery, phone_id)
            try:
                return work()
            except Exception as failure:
                notes.failure = failure
                raise

        for _ in range(3):  # again only after clearing another delivery's refusal
            try:
                stored = self._run_once(key=key, delivery=delivery, work=noted_work, notes=notes)
            except _Unstored:
                return notes.result  # type: ignore[return-value]  # set before raising
            except IdempotencyAlreadyInProgressError:
                raise InProgressError("this phone's owner is being created right now; retry shortly") from None
            except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
                if notes.failure is not None:  # the work failed and its record could not be deleted:
                    raise notes.failure from exc  # the work's failure is what happened (an ambiguous one counts)
                if notes.result is None:
                    raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
                # The work is done (an owner may exist now): answer the truth, and say it was not recorded.
                notes.unrecorded = True
                return notes.result
            if notes.result is not None:  # this call did the work
                return notes.result
            outcome = outcomes.ALL[stored["code"]]
            if stored["delivery"] == delivery:
                return Result(outcome, stored.get("message"), replayed=True)
            if outcome == outcomes.OWNER_CREATED:
                return Result(outcomes.PHONE_EXISTING)
            self._forget(key, stored)  # a refusal for another delivery marks no owner: forward this one
        # Other deliveries of this phone keep changing its record: one of them is being handled.
        raise InProgressError("this phone's owner is being created right now; retry shortly")

    def _reused(self, delivery: str, phone_id: str) -> bool:
        """Record which phone this delivery id carries; whether it carried another one before (best effort)."""
        now = int(time.time())
        try:
            old = self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": f"{_ID_PREFIX}#{delivery}"},
                    "phone": {"S": phone_id[:32]},
                    "expiration": {"N": str(now + self._delivery_window)},
                },
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
        except (BotoCoreError, ClientError):
            return False  # only a metric depends on it; the forward does not
        return bool(old) and old["phone"]["S"] != phone_id[:32] and int(old["expiration"]["N"]) > now

    def _forget(self, key: dict[str, str], stored: dict[str, Any]) -> None:
        """Delete the record if it still holds `stored` (a concurrent delivery may have replaced it)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": self._layer._get_hashed_idempotency_key(key)}},  # the layer's own key scheme
                ConditionExpression="#status = :completed AND #data = :data",
                ExpressionAttributeNames={"#status": "status", "#data": "data"},
                ExpressionAttributeValues={
                    ":completed": {"S": "COMPLETED"},
                    ":data": {"S": json.dumps(stored, sort_keys=True)},  # as Powertools stored it
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
        except BotoCoreError as exc:
            raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc


def _run(key: dict[str, str], delivery: str, work: Work, notes: Notes) -> dict[str, Any]:
    notes.result = result = work()
    if result.outcome not in _STORED:
        raise _Unstored  # waiting in the retry queue is not an owner: Powertools deletes the record
    return {"code": result.code, "message": result.message, "delivery": delivery}
