"""The moto stand-in keeps DynamoDB's contract where the deduplication protocol rests on it: a conditional
write is atomic, so of many claims of one key racing, exactly one wins."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sandbox.aws import REGION
from sandbox.stack import Sandbox

TABLE = "owner-webhook-standin-race"
CLAIMS = 8


@pytest.fixture
def table(sandbox: Sandbox) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=sandbox.aws.url)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    client.delete_table(TableName=TABLE)


def test_of_claims_racing_for_one_key_exactly_one_wins(sandbox: Sandbox, table: Any) -> None:
    clients = [boto3.client("dynamodb", region_name=REGION, endpoint_url=sandbox.aws.url) for _ in range(CLAIMS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the server's threads switch as often as they can: a machine under load, or worse
    try:
        winners = [_race(clients, f"key-{n}") for n in range(40)]
    finally:
        sys.setswitchinterval(interval)
    assert winners == [1] * 40


def _race(clients: list[Any], key: str) -> int:
    won: list[int] = []
    start = threading.Barrier(len(clients))

    def claim(n: int) -> None:
        client = clients[n]
        start.wait()
        try:
            client.put_item(
                TableName=TABLE,
                Item={"id": {"S": key}, "claim": {"N": str(n)}},
                ConditionExpression="attribute_not_exists(id)",
            )
            won.append(n)
        except client.exceptions.ConditionalCheckFailedException:
            pass

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return len(won)
