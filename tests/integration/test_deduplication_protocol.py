"""The deduplication protocol across changes (docs/guarantees.md, "One owner per phone" and "Changing the
configuration"): a table written by the earlier, Powertools-based version is read as it was; switching
phone deduplication on or off, replacing the phone key and redriving old dead letters make no second
owner; `lookup` says what the table knows."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from owner_webhook import deduplication, retry_queue, wiring
from owner_webhook.deduplication import PhoneState, item_id
from sandbox import queue, senders
from sandbox.aws import IDEMPOTENCY_TABLE, LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import LOCAL_MAX_RECEIVE_COUNT, Sandbox
from tests.integration.conftest import Answer, invoke_event

# Powertools warns that the earlier version's records are written outside a Lambda context: they are.
pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time")
EXISTING = {"success": True, "existing": True}
PHONE = "+905551234567"
KEY = LOCAL_PHONE_KEY.encode()


def send(source: str, delivery_id: str, phone: str = "0555 123 45 67") -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


def _hmac(text: str) -> str:
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def _written_by_the_earlier_version(sandbox: Sandbox, key: dict[str, str], prefix: str, answer: dict[str, Any]) -> None:
    """Write a record exactly as the earlier version did: Powertools Idempotency's public API with its
    configuration (the key prefix, the key under `key`, the answer as the function's return value)."""
    layer = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=sandbox.aws.client("dynamodb"))

    @idempotent_function(
        data_keyword_argument="key",
        persistence_store=layer,
        config=IdempotencyConfig(expires_after_seconds=7 * 86_400, raise_on_no_idempotency_key=True),
        key_prefix=prefix,
    )
    def earlier(key: dict[str, str]) -> dict[str, Any]:
        return answer

    earlier(key=key)


def test_the_item_id_is_the_one_powertools_computes(sandbox: Sandbox) -> None:
    key = {"phone": _hmac(PHONE), "delivery": _hmac("zapier\0d-1")}
    _written_by_the_earlier_version(sandbox, key, deduplication.DELIVERY_PREFIX, {"code": "owner_created"})
    [item] = sandbox.aws.table_items()
    assert item["id"]["S"] == item_id(deduplication.DELIVERY_PREFIX, key)
    assert item["status"]["S"] == deduplication.COMPLETED


@pytest.mark.parametrize(("delivery", "expected"), [("old-1", {"success": True}), ("new-1", EXISTING)])
def test_a_table_written_by_the_earlier_version_is_read_as_it_was(
    sandbox: Sandbox, delivery: str, expected: dict[str, Any]
) -> None:
    answer = {"code": "owner_created", "message": None, "delivery": _hmac("zapier\0old-1")}
    _written_by_the_earlier_version(sandbox, {"phone": _hmac(PHONE)}, deduplication.PHONE_PREFIX, answer)
    assert send("zapier", delivery).body == expected  # the same delivery replayed; another one: existing
    assert sandbox.gateway.received == []


def test_an_earlier_versions_refusal_is_taken_over_by_another_delivery(sandbox: Sandbox) -> None:
    answer = {"code": "rejected_phone", "message": "refused", "delivery": _hmac("zapier\0old-1")}
    _written_by_the_earlier_version(sandbox, {"phone": _hmac(PHONE)}, deduplication.PHONE_PREFIX, answer)
    assert send("zapier", "old-1").code == "rejected_phone"  # replayed
    assert send("tally", "new-1").body == {"success": True}
    assert sandbox.gateway.owners == [PHONE]


def _rebuild(monkeypatch: pytest.MonkeyPatch, **environment: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    wiring.parts.cache_clear()


@pytest.mark.parametrize("first", ["on", "off"])
def test_switching_phone_deduplication_keeps_what_the_other_mode_recorded(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    seconds = {"on": "604800", "off": "0"}
    _rebuild(monkeypatch, PHONE_DEDUPLICATION_SECONDS=seconds[first])
    assert send("zapier", "before").body == {"success": True}
    _rebuild(monkeypatch, PHONE_DEDUPLICATION_SECONDS=seconds["off" if first == "on" else "on"])
    # The same delivery again is its replay in either mode.
    assert send("zapier", "before").body == {"success": True}
    if first == "off":  # phone deduplication on now: another delivery of the known phone is existing
        assert send("tally", "after").body == EXISTING
    assert sandbox.gateway.owners == [PHONE]


def test_replacing_the_phone_key_keeps_the_old_one_for_reading(sandbox: Sandbox) -> None:
    assert send("zapier", "under-old-key").body == {"success": True}
    new_key = "a-new-phone-key-for-the-hmac-of-phones-9876543210"
    sandbox.aws.put_secret(json.dumps([new_key, LOCAL_PHONE_KEY]), PHONE_KEY_SECRET_ID)
    try:
        wiring.parts.cache_clear()
        assert send("tally", "under-new-key").body == EXISTING  # found under the old key
        assert send("typeform", "and-again").body == EXISTING  # now copied under the new one
        record = wiring.parts().service.deduplication.lookup(PHONE)
        assert record is not None and (record.state, record.old_key) == (PhoneState.OWNER_CREATED, False)
    finally:
        sandbox.aws.put_secret(LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID)
    assert sandbox.gateway.owners == [PHONE]


def test_lookup_says_what_the_table_knows_about_a_phone(sandbox: Sandbox) -> None:
    service = wiring.parts().service
    assert service.deduplication.lookup(PHONE) is None
    sandbox.gateway.rejected_phones.add(PHONE)
    send("zapier", "refused")
    refused = service.deduplication.lookup(PHONE)
    assert refused is not None and (refused.state, refused.source) == (PhoneState.REFUSED, "zapier")
    sandbox.gateway.rejected_phones.clear()
    send("tally", "created")
    created = service.deduplication.lookup(PHONE)
    assert created is not None and (created.state, created.source) == (PhoneState.OWNER_CREATED, "tally")
    assert created.delivery == _hmac("tally\0created")  # as stored: never the id itself
    assert created.recorded_at is not None and abs(created.recorded_at - time.time()) < 60
    assert abs(created.expires_at - (time.time() + 7 * 86_400)) < 60
    calls = {k: v for k, v in sandbox.aws.calls.items() if k.startswith("DynamoDB_")}
    service.deduplication.lookup(PHONE)
    after = {k: v for k, v in sandbox.aws.calls.items() if k.startswith("DynamoDB_")}
    assert {k: after[k] - calls.get(k, 0) for k in after if after[k] != calls.get(k, 0)} == {
        "DynamoDB_20120810.GetItem": 1
    }  # read-only


@pytest.fixture
def queued(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    yield sandbox
    sandbox.gateway.chaos(0, [], seed=0)


class _Later:
    """time as the deduplication module sees it, `days` later."""

    def __init__(self, days: float) -> None:
        self._offset = days * 86_400

    def time(self) -> float:
        return time.time() + self._offset


def _dead_letter_then_an_owner(queued: Sandbox, delivery_id: str) -> None:
    """A Jotform delivery the gateway kept failing, dead-lettered; then the person's owner created by another."""
    queued.gateway.chaos(1.0, [Fault(status=500)], seed=4)
    assert send("jotform", delivery_id).body == {"success": True, "queued": True}
    for _ in range(LOCAL_MAX_RECEIVE_COUNT + 1):
        queue.poll_once(queued.aws, queued.queue_url, forwarder)
    assert queue.depth(queued.aws, queued.dead_letter_url) == 1
    queued.gateway.chaos(0, [], seed=0)
    assert send("typeform", "signed-up-again").body == {"success": True}  # the person's owner is created


def test_a_redrive_eight_days_later_makes_no_second_owner(queued: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _dead_letter_then_an_owner(queued, "dead")
    # Eight days later (past the 7 days of phone deduplication) the operator redrives the dead letters.
    monkeypatch.setattr(deduplication, "time", _Later(8))
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == [PHONE]


def test_a_redrive_fifteen_days_later_finds_the_owner_the_table_knew_when_it_arrived(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/guarantees.md, one owner per phone: the record of the owner created meanwhile is no longer
    remembered for a new delivery (14 days with the queue), but the redriven one arrived while it was."""
    _dead_letter_then_an_owner(queued, "dead-15")
    monkeypatch.setattr(deduplication, "time", _Later(15))
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == [PHONE]
    monkeypatch.setattr(retry_queue, "time", _Later(15))  # a new delivery arrives on that day: a new owner
    assert send("zapier", "a-new-signup").body == {"success": True}
    assert queued.gateway.owners == [PHONE, PHONE]


def test_a_redrive_after_the_table_forgot_the_phone_counts_its_owner_as_a_possible_duplicate(
    queued: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logs: Callable[[], list[dict[str, Any]]],
) -> None:
    """docs/guarantees.md, possible duplicates: a redriven message keeps when it was received; later than the
    table keeps what it knew then (its 14 days, and 14 more for late deliveries), an owner it creates is counted."""
    from tests.integration.test_phone_identity import _counted

    _dead_letter_then_an_owner(queued, "dead-long")
    # Twenty-nine days later: the dead letter was redriven, dead-lettered again and redriven (its 14 days
    # started over each time); the record of the owner created meanwhile is gone.
    monkeypatch.setattr(deduplication, "time", _Later(29))
    assert queue.redrive(queued.aws, queued.dead_letter_url, queued.queue_url) == 1
    capsys.readouterr()
    queue.drain(queued.aws, queued.queue_url, forwarder)
    out = capsys.readouterr().out
    assert queued.gateway.owners == [PHONE, PHONE]  # the table had forgotten: a second owner...
    assert _counted(out, "AmbiguousForward") == 1  # ...and counted, with the possible duplicates
    line = [line for line in logs() if line["message"] == "queued delivery handled"][-1]
    assert (line["outcome"], line["older_than_memory"]) == ("drained", True)


def test_a_late_delivery_finds_an_owner_an_earlier_version_recorded_while_it_waited(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record from before `remembered_until` ends at its expiration: a delivery queued before it is still
    answered existing after it (the record not yet deleted), not forwarded as a second, uncounted owner."""
    from sandbox.aws import IDEMPOTENCY_TABLE

    queued.gateway.chaos(1.0, [Fault(status=500)], seed=4)
    assert send("jotform", "waits").body == {"success": True, "queued": True}
    queued.gateway.chaos(0, [], seed=0)
    assert send("zapier", "first").body == {"success": True}  # her owner: recorded below as an earlier version would
    [item] = [i for i in queued.aws.table_items() if i["id"]["S"].startswith("owner-webhook-phone#")]
    ends = str(int(time.time()) + 4 * 86_400)
    item = {name: value for name, value in item.items() if name != "remembered_until"} | {"expiration": {"N": ends}}
    queued.aws.client("dynamodb").put_item(TableName=IDEMPOTENCY_TABLE, Item=item)
    monkeypatch.setattr(deduplication, "time", _Later(6))  # the queued one forwarded two days after its expiration
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert queued.gateway.owners == [PHONE]
