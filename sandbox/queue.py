"""Lambda's SQS event source, played locally: receive a batch, call the forwarder, delete what succeeded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sandbox.aws import REGION, LocalAws
from sandbox.events import LocalContext

Forwarder = Callable[[dict[str, Any], Any], Any]


def poll_once(
    aws: LocalAws, queue_url: str, forwarder: Forwarder, batch_size: int = 10, timeout_seconds: float = 60
) -> tuple[int, int]:
    """One batch through the forwarder (whose timeout is `timeout_seconds`), as the event source mapping does;
    (messages, failed)."""
    sqs = aws.client("sqs")
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=batch_size, AttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", [])
    if not received:
        return 0, 0
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = {"Records": [record(message, arn) for message in received]}
    response = forwarder(event, LocalContext(timeout_seconds=timeout_seconds))
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    for message in received:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(received), len(failed)


def drain(
    aws: LocalAws,
    queue_url: str,
    forwarder: Forwarder,
    rounds: int = 50,
    pause: float = 0.0,
    timeout_seconds: float = 60,
) -> int:
    """Poll until the queue gives nothing (or `rounds` run out); the number of messages handled."""
    handled = 0
    for _ in range(rounds):
        count, _failed = poll_once(aws, queue_url, forwarder, timeout_seconds=timeout_seconds)
        if count == 0:
            break
        handled += count
        time.sleep(pause)
    return handled


def depth(aws: LocalAws, queue_url: str) -> int:
    """Messages on the queue, visible or in flight."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def redrive(aws: LocalAws, dead_letter_url: str, queue_url: str) -> int:
    """Move every dead letter back to the queue (SQS's message move task does this on AWS)."""
    return move_messages(aws.client("sqs"), dead_letter_url, queue_url)


def move_messages(sqs: Any, dead_letter_url: str, queue_url: str) -> int:
    moved = 0
    while messages := sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {key: str(value) for key, value in message.get("Attributes", {}).items()},
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }
