"""Deduplication: one owner per phone, one answer per delivery, kept in a DynamoDB table.

This module owns the whole protocol: a few boto3 calls with condition expressions, read here from top
to bottom. (Earlier versions used Powertools Idempotency; its public API cannot carry a record keyed
by the phone whose answer depends on which delivery asks, so the calls are owned here, and the items
stay exactly as Powertools wrote them: a table written by an earlier version is read as it was.)

Keys. A phone is never stored, nor a hash anybody can compute: `phone_id` is an HMAC-SHA256 of the
E.164 phone under the deployment's phone key (PHONE_KEY_SECRET_ID), and `delivery` an HMAC of the
source and its delivery id. With phone deduplication on (PHONE_DEDUPLICATION_SECONDS above 0) a
record's key is the phone alone, so any later delivery of the phone, from any source, finds its
owner; with it off, the phone and the delivery. An item's `id` is "<prefix>#" and the MD5 of the key's
JSON (sorted keys), as Powertools computes it: `owner-webhook-phone#...` for a phone record,
`owner-webhook-delivery#...` for a delivery record, and `owner-webhook-id#<delivery>` for the note of
which phone a delivery id carried (to count a reused id).

Items: `status` INPROGRESS (a claim) or COMPLETED (an answer); `remembered_until` (epoch seconds: a
delivery that arrives after it is not answered by the item) and `expiration` (as much later as a delivery
may be forwarded late, a queued message or a kept refusal replayed: after it the item means nothing, and
DynamoDB's TTL deletes it; what earlier versions wrote has no `remembered_until` and ends at
`expiration`); on a claim `in_progress_expiration` (epoch ms:
when the claiming invocation ends) and `claim` (its random token); on an answer `data`, the JSON of
{"code", "delivery", "message"}; on what this version writes, `source` and `recorded_at`.

States of a key, and the one call that moves each step:

    nothing ─claim: PutItem if absent, expired, no longer remembered when the delivery arrived, or a lapsed
        claim─▶ claimed
    claimed ─record: an owner: BatchWriteItem (with the other mode's record); a refusal: UpdateItem if
        the claim is still ours─▶ owner created, or refused
    claimed ─release: DeleteItem, if the claim is still ours─▶ nothing  (a transient failure, or queued)
    claimed ─the invocation ends without either (it died mid-forward)─▶ a lapsed claim: the next claim
        takes it over and says so, and an owner it then creates is counted as a possible duplicate
    refused (another delivery's, or with `retake_refusal` its own) ─claim: PutItem if the item is still
        exactly that refusal─▶ claimed
    owner created, refused ─remembered_until─▶ nothing, for a delivery that arrives later ─expiration─▶ nothing

What DynamoDB's answers mean:

- claim succeeds: ReturnValues ALL_OLD says whether it took over a lapsed claim.
- claim fails its condition: ReturnValuesOnConditionCheckFailure ALL_OLD is the item that stopped it.
  A claim still running: InProgressError. An answer for the same delivery: replayed (but its refusal is
  taken over with `retake_refusal`: an operator's replay of a kept refusal asks the gateway again). An
  owner for another delivery: `existing`. Another delivery's refusal: taken over once (a refusal marks no
  owner); if that fails too, whatever stopped it decides, without another takeover.
- any other error (throttled, unreachable, a timeout): DeduplicationUnavailableError, and nothing is
  forwarded (a forward without protection could duplicate).
- record fails (the table, an unprocessed item, a refusal's condition): False; the caller answers the
  truth and counts a possible duplicate.
- release fails its condition: the claim is not ours any more, nothing to undo.

Both modes keep what the other reads: recording an owner also writes the other mode's record in the
same call (with phone deduplication on, the delivery record; off, the phone record, kept as
long as the delivery window), so switching the mode gives no known phone or answered delivery a
second owner. Replacing the phone key: the secret may hold a JSON list of keys, the current first;
the older ones are read (one GetItem each, only for a phone the current key does not know) until
their records expire, and an answer found under an old key is copied under the current one.

With the retry queue on, an answer is remembered at least `min_lifetime` (the longest SQS keeps a message,
dead letters included), so redriven dead letters find the owner created meanwhile. A late delivery is claimed
as the table knew the phone when it arrived (`received_at`): an owner its phone had then is found, even once
new deliveries no longer are; one later than `late` may find that gone (`forgot_since`), and the owner it
creates is counted as a possible duplicate.

`lookup(phone)` is the read-only view for support tools ("what does the table know about this
phone"): GetItem only, under every key of the list, the current first; it returns a `PhoneRecord`
(owner created, in progress or refused; when; by which source and delivery, as stored: an HMAC; until
when) or None when the table knows nothing of the phone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from owner_webhook import outcomes
from owner_webhook.aws_clients import CLIENT_CONFIG
from owner_webhook.budget import Deadline
from owner_webhook.errors import DeduplicationUnavailableError, InProgressError
from owner_webhook.outcomes import Result

# Fixed key prefixes keep the keys stable when this module is renamed or moved.
PHONE_PREFIX, DELIVERY_PREFIX, ID_PREFIX = "owner-webhook-phone", "owner-webhook-delivery", "owner-webhook-id"
INPROGRESS, COMPLETED = "INPROGRESS", "COMPLETED"
STORED = {outcomes.OWNER_CREATED, outcomes.REJECTED_PHONE}  # final answers; anything else is not recorded
LONGEST_INVOCATION = 900  # Lambda's longest timeout: how late a delivery is at most within its own invocation
_CONDITION_FAILED = "ConditionalCheckFailedException"
# Free for a claim: nothing there; a record the table had stopped remembering when the delivery arrived
# (`:as_of`), or past its expiration (DynamoDB's TTL deletes it, late); one an earlier version wrote (no
# `remembered_until`: it ends at its expiration), if that came before the delivery; a claim whose invocation
# has ended. (`_forgotten` says the same of an item read.)
_FREE = (
    "attribute_not_exists(#id)"
    " OR (attribute_exists(#remembered) AND (#remembered < :as_of OR #expiration < :now))"
    " OR (attribute_not_exists(#remembered) AND #expiration < :as_of)"
    " OR (#status = :inprogress AND attribute_exists(#claim_end) AND #claim_end < :now_ms)"
)
_NAMES = {
    "#id": "id",
    "#expiration": "expiration",
    "#remembered": "remembered_until",
    "#status": "status",
    "#claim_end": "in_progress_expiration",
}


class PhoneState(StrEnum):
    OWNER_CREATED = "owner_created"
    IN_PROGRESS = "in_progress"
    REFUSED = "refused"


class PhoneRecord(NamedTuple):
    """What the table knows about one phone (`lookup`)."""

    state: PhoneState
    expires_at: int  # epoch seconds
    recorded_at: int | None = None  # epoch seconds; None for a claim, and for what earlier versions wrote
    source: str | None = None  # None for what earlier versions wrote
    delivery: str | None = None  # the delivery's HMAC, as stored
    lapsed: bool = False  # a claim whose invocation has ended without recording or releasing it
    old_key: bool = False  # found under a phone key that is no longer the current one


class Claim(NamedTuple):
    """A key this invocation holds while it forwards (without a table: nothing to hold)."""

    item_id: str = ""
    token: str = ""
    phone_id: str = ""
    delivery: str = ""
    source: str = ""
    after_lapsed_claim: bool = False  # it took over the claim of an invocation that died mid-forward


class Answered(NamedTuple):
    """The table already has the answer: replayed for the same delivery, `existing` for another."""

    result: Result


class Deduplication(Protocol):
    by_phone: bool  # records keyed by the phone alone (phone deduplication on)

    def claim(
        self,
        source: str,
        delivery_id: str,
        phone: str,
        deadline: Deadline,
        keys: Sequence[bytes],
        *,
        received_at: float | None = None,
        retake_refusal: bool = False,
    ) -> Claim | Answered:
        """Claim the phone (or the phone and delivery) for a forward, keyed by `keys` (the current first), as the
        table knew it when the delivery arrived (`received_at`, default now); with `retake_refusal`, over a
        refusal stored for this same delivery too. Raises InProgressError, DeduplicationUnavailableError."""

    def note(self, claim: Claim) -> bool:
        """Note which phone the claim's delivery id carries; whether it carried another before (best effort)."""

    def record(self, claim: Claim, result: Result) -> bool:
        """Store a final answer (owner created, refused) in place of the claim; False if it could not be."""

    def release(self, claim: Claim) -> bool:
        """Delete the claim (no owner yet); False if the table failed."""

    def lookup(self, phone: str, as_of: float | None = None) -> PhoneRecord | None:
        """What the table knows about the phone (read-only), as of a delivery that arrived at `as_of` (default
        now); raises DeduplicationUnavailableError."""

    def forgot_since(self, when: float) -> bool:
        """Whether a record written after `when` (epoch seconds) may have expired by now: an owner created for
        the phone since then may be one the table no longer knows."""


class NoDeduplication:
    """IDEMPOTENCY_TABLE unset: every delivery is forwarded."""

    by_phone = False

    def claim(
        self,
        source: str,
        delivery_id: str,
        phone: str,
        deadline: Deadline,
        keys: Sequence[bytes],
        *,
        received_at: float | None = None,
        retake_refusal: bool = False,
    ) -> Claim | Answered:
        return Claim(source=source)

    def note(self, claim: Claim) -> bool:
        return False

    def record(self, claim: Claim, result: Result) -> bool:
        return True

    def release(self, claim: Claim) -> bool:
        return True

    def lookup(self, phone: str, as_of: float | None = None) -> PhoneRecord | None:
        return None

    def forgot_since(self, when: float) -> bool:
        return False  # it never knew: without a table, no delivery is told apart from another


def item_id(prefix: str, key: dict[str, str]) -> str:
    """An item's id as Powertools Idempotency computes it: the prefix, "#", the MD5 of the key's JSON."""
    return f"{prefix}#{hashlib.md5(json.dumps(key, sort_keys=True).encode(), usedforsecurity=False).hexdigest()}"


def keyed(key: bytes, phone: str, source: str, delivery_id: str) -> tuple[str, str]:
    """The phone's and the delivery's HMACs under one phone key."""
    phone_id = hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()
    # Keyed too: a delivery id may be the phone itself, or the hash of a body that is only the phone.
    delivery = hmac.new(key, f"{source}\0{delivery_id}".encode(), hashlib.sha256).hexdigest()
    return phone_id, delivery


class DynamoDBDeduplication:
    def __init__(
        self,
        table_name: str,
        *,
        delivery_window: int,
        phone_window: int,
        min_lifetime: int,
        phone_keys: Callable[[], Sequence[bytes]],
        late: int = 0,
        session: boto3.session.Session | None = None,
    ) -> None:
        self._table = table_name
        self._phone_keys = phone_keys
        self.by_phone = phone_window > 0
        self._delivery_window = delivery_window
        self._lifetime = max(phone_window if self.by_phone else delivery_window, min_lifetime)
        self._other_lifetime = max(delivery_window, min_lifetime)  # the other mode's record
        # How late a delivery may still be forwarded (a queued message, a kept refusal replayed; at least the
        # longest invocation): a record stays that much longer than it is remembered, so that such a delivery
        # finds what the table knew when it arrived.
        self._late = max(late, LONGEST_INVOCATION)
        self._session = session or boto3.session.Session()
        self._client: Any = None  # built on first use: the webhook, with a forwarder, reads it for dry runs only

    def _dynamodb(self) -> Any:
        if self._client is None:
            self._client = self._session.client("dynamodb", config=CLIENT_CONFIG)
        return self._client

    # -- claim ------------------------------------------------------------------------------------------

    def claim(
        self,
        source: str,
        delivery_id: str,
        phone: str,
        deadline: Deadline,
        keys: Sequence[bytes],
        *,
        received_at: float | None = None,
        retake_refusal: bool = False,
    ) -> Claim | Answered:
        phone_id, delivery = keyed(keys[0], phone, source, delivery_id)
        claim = Claim(self._own_id(phone_id, delivery), secrets.token_hex(16), phone_id, delivery, source)
        now = time.time()
        as_of = now if received_at is None else min(now, received_at)
        item = {
            "id": {"S": claim.item_id},
            "status": {"S": INPROGRESS},
            **self._lifetime_of(int(now), self._lifetime),
            "in_progress_expiration": {"N": str(int(deadline.wall_clock_end() * 1000))},
            "claim": {"S": claim.token},
            "source": {"S": source},
        }
        claimed, old = self._put(item, _FREE, now, **{":as_of": {"N": str(int(as_of))}})
        if claimed:
            lapsed = old.get("status", {}).get("S") == INPROGRESS
            claim = claim._replace(after_lapsed_claim=lapsed)
            return self._under_old_keys(claim, keys[1:], phone, delivery_id, as_of)
        decided = self._decide(old, claim)
        if decided is not None and not (retake_refusal and decided.result.replayed and decided.result.outcome.refusal):
            return decided
        # Another delivery's refusal (or, replayed, this one's): take it over, if it is still exactly that refusal.
        claimed, stopped_by = self._replace_refusal(item, old)
        if claimed:
            return claim
        decided = self._decide(stopped_by, claim)
        if decided is None:  # yet another refusal: another delivery of the phone is being handled
            raise _in_progress()
        return decided

    def _put(self, item: dict[str, Any], condition: str, now: float, **values: Any) -> tuple[bool, dict[str, Any]]:
        """Put the claim if `condition` holds: (True, the item it replaced) or (False, the item that stopped it)."""
        try:
            response = self._dynamodb().put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in {**_NAMES, "#data": "data"}.items() if k in condition},
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":inprogress": {"S": INPROGRESS},
                    **values,
                }
                if ":now" in condition
                else values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                old = exc.response.get("Item")
                if isinstance(old, dict):
                    return False, old
            raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
        except BotoCoreError as exc:
            raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
        return True, response.get("Attributes") or {}

    def _replace_refusal(self, item: dict[str, Any], refusal: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Claim over another delivery's refusal if the item still holds exactly that refusal."""
        condition = "#status = :completed AND #data = :refusal"
        values = {":completed": {"S": COMPLETED}, ":refusal": refusal["data"]}
        return self._put(item, condition, time.time(), **values)

    def _decide(self, item: dict[str, Any], claim: Claim) -> Answered | None:
        """What a key's item answers: raises InProgressError for a running claim; None for a refusal to take over."""
        if item.get("status", {}).get("S") != COMPLETED or "data" not in item:
            raise _in_progress()
        try:
            stored = json.loads(item["data"]["S"])
            outcome = outcomes.ALL[stored["code"]]
        except (ValueError, KeyError, TypeError):
            raise DeduplicationUnavailableError("the deduplication table holds an unreadable record") from None
        if stored.get("delivery") == claim.delivery:
            return Answered(Result(outcome, stored.get("message"), replayed=True))
        if outcome == outcomes.OWNER_CREATED:
            return Answered(Result(outcomes.PHONE_EXISTING))
        return None

    def _under_old_keys(
        self, claim: Claim, old_keys: Sequence[bytes], phone: str, delivery_id: str, as_of: float
    ) -> Claim | Answered:
        """The new claim, unless an older phone key knows the answer (then copied under the current key)."""
        for key in old_keys:
            phone_id, delivery = keyed(key, phone, claim.source, delivery_id)
            item = self._get(self._own_id(phone_id, delivery))
            if item is None or item.get("status", {}).get("S") != COMPLETED or _forgotten(item, time.time(), as_of):
                continue
            answered = self._decide(item, claim._replace(delivery=delivery))
            if answered is not None and answered.result.outcome in (outcomes.PHONE_EXISTING, outcomes.OWNER_CREATED):
                stored = json.loads(item["data"]["S"])
                self._write(claim, stored["code"], stored.get("message"), stored.get("delivery", ""))
                return answered
        return claim

    # -- after the forward --------------------------------------------------------------------------------

    def note(self, claim: Claim) -> bool:
        now = int(time.time())
        try:
            old = (
                self._dynamodb()
                .put_item(
                    TableName=self._table,
                    Item={
                        "id": {"S": f"{ID_PREFIX}#{claim.delivery}"},
                        "phone": {"S": claim.phone_id[:32]},
                        "expiration": {"N": str(now + self._delivery_window)},
                    },
                    ReturnValues="ALL_OLD",
                )
                .get("Attributes", {})
            )
        except (BotoCoreError, ClientError):
            return False  # only a metric depends on it; the forward does not
        return bool(old) and old["phone"]["S"] != claim.phone_id[:32] and int(old["expiration"]["N"]) > now

    def record(self, claim: Claim, result: Result) -> bool:
        return self._write(claim, result.code, result.message, claim.delivery)

    def _write(self, claim: Claim, code: str, message: str | None, delivery: str) -> bool:
        now = int(time.time())
        data = {"S": json.dumps({"code": code, "delivery": delivery, "message": message}, sort_keys=True)}
        own = {
            "TableName": self._table,
            "Key": {"id": {"S": claim.item_id}},
            "UpdateExpression": "SET #status = :completed, #data = :data, #expiration = :expiration, "
            "#remembered = :remembered, #recorded_at = :now, #source = :source REMOVE #claim_end",
            "ConditionExpression": "#claim = :token",
            "ExpressionAttributeNames": {
                "#status": "status",
                "#data": "data",
                "#expiration": "expiration",
                "#remembered": "remembered_until",
                "#recorded_at": "recorded_at",
                "#source": "source",
                "#claim_end": "in_progress_expiration",
                "#claim": "claim",
            },
            "ExpressionAttributeValues": {
                ":completed": {"S": COMPLETED},
                ":data": data,
                ":expiration": {"N": str(now + self._lifetime + self._late)},
                ":remembered": {"N": str(now + self._lifetime)},
                ":now": {"N": str(now)},
                ":source": {"S": claim.source},
                ":token": {"S": claim.token},
            },
        }
        try:
            if code != outcomes.OWNER_CREATED.code:
                self._dynamodb().update_item(**own)
                return True
            # An owner: in one call, the answer in place of the claim and the other mode's record, so that
            # switching the mode keeps this owner known. Unconditional: a claim is taken over only once its
            # invocation has ended, and then this one can no longer record.
            written = {"status": {"S": COMPLETED}, "data": data, "recorded_at": {"N": str(now)}}
            written["source"] = {"S": claim.source}
            mine = {"id": {"S": claim.item_id}, **self._lifetime_of(now, self._lifetime), **written}
            other_id = self._other_id(claim.phone_id, claim.delivery)
            other = {"id": {"S": other_id}, **self._lifetime_of(now, self._other_lifetime), **written}
            unprocessed = (
                self._dynamodb()
                .batch_write_item(
                    RequestItems={self._table: [{"PutRequest": {"Item": mine}}, {"PutRequest": {"Item": other}}]}
                )
                .get("UnprocessedItems", {})
            )
        except (BotoCoreError, ClientError):
            return False
        left = [request["PutRequest"]["Item"]["id"]["S"] for request in unprocessed.get(self._table, [])]
        return claim.item_id not in left  # the other mode's record is best effort

    def release(self, claim: Claim) -> bool:
        try:
            self._dynamodb().delete_item(
                TableName=self._table,
                Key={"id": {"S": claim.item_id}},
                ConditionExpression="#claim = :token",
                ExpressionAttributeNames={"#claim": "claim"},
                ExpressionAttributeValues={":token": {"S": claim.token}},
            )
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED  # not ours any more
        except BotoCoreError:
            return False
        return True

    # -- reading --------------------------------------------------------------------------------------------

    def forgot_since(self, when: float) -> bool:
        # A record the table remembered at `when` stays at least until `when` plus its lateness: a delivery that
        # arrived then is claimed as the table knew the phone then (`received_at`), unless that is gone too.
        return time.time() - when > self._late

    def _lifetime_of(self, now: int, lifetime: int) -> dict[str, dict[str, str]]:
        """A record's ends: remembered for `lifetime`, and kept (DynamoDB's TTL) as long again as a delivery may
        arrive late, so that a late one is answered as it would have been when it arrived."""
        return {
            "expiration": {"N": str(now + lifetime + self._late)},
            "remembered_until": {"N": str(now + lifetime)},
        }

    def lookup(self, phone: str, as_of: float | None = None) -> PhoneRecord | None:
        now = time.time()
        for index, key in enumerate(self._phone_keys()):
            phone_id = hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()
            item = self._get(item_id(PHONE_PREFIX, {"phone": phone_id}))
            if item is None or _forgotten(item, now, now if as_of is None else min(now, as_of)):
                continue
            return _phone_record(item, now, old_key=index > 0)
        return None

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            item = (
                self._dynamodb()
                .get_item(TableName=self._table, Key={"id": {"S": key}}, ConsistentRead=True)
                .get("Item")
            )
        except (BotoCoreError, ClientError) as exc:
            raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
        return item if isinstance(item, dict) else None

    def _own_id(self, phone_id: str, delivery: str) -> str:
        """The key this mode claims: the phone's record, or (phone deduplication off) the delivery's."""
        if self.by_phone:
            return item_id(PHONE_PREFIX, {"phone": phone_id})
        return item_id(DELIVERY_PREFIX, {"phone": phone_id, "delivery": delivery})

    def _other_id(self, phone_id: str, delivery: str) -> str:
        """The key the other mode claims, written with an owner so that a switch of the mode keeps it."""
        if self.by_phone:
            return item_id(DELIVERY_PREFIX, {"phone": phone_id, "delivery": delivery})
        return item_id(PHONE_PREFIX, {"phone": phone_id})


def _remembered_until(item: dict[str, Any]) -> int:
    """When the record stops counting (epoch seconds); what earlier versions wrote ends at its expiration."""
    return int(item.get("remembered_until", item["expiration"])["N"])


def _forgotten(item: dict[str, Any], now: float, as_of: float) -> bool:
    """Whether a record no longer counts for a delivery that arrived at `as_of`: no longer remembered when the
    delivery arrived, or past its expiration (one an earlier version wrote ends there, as it did for it)."""
    expiration = int(item["expiration"]["N"])
    if "remembered_until" not in item:
        return expiration < as_of
    return int(item["remembered_until"]["N"]) < as_of or expiration < now


def _phone_record(item: dict[str, Any], now: float, *, old_key: bool) -> PhoneRecord:
    expires_at = _remembered_until(item)
    source = item.get("source", {}).get("S")
    if item.get("status", {}).get("S") != COMPLETED:
        claim_end = int(item.get("in_progress_expiration", {}).get("N", "0"))
        return PhoneRecord(
            PhoneState.IN_PROGRESS, expires_at, source=source, lapsed=claim_end < now * 1000, old_key=old_key
        )
    stored = json.loads(item["data"]["S"])
    state = PhoneState.OWNER_CREATED if stored.get("code") == outcomes.OWNER_CREATED.code else PhoneState.REFUSED
    recorded_at = int(item["recorded_at"]["N"]) if "recorded_at" in item else None
    return PhoneRecord(state, expires_at, recorded_at, source, stored.get("delivery"), old_key=old_key)


def _in_progress() -> InProgressError:
    return InProgressError("this phone's owner is being created right now; retry shortly")
