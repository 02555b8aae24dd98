"""`make dead-letters` and `make redrive`: what waits in the dead-letter queue, and moving it back.

By default the stand-ins of a running `make serve`; `--stack NAME` (make's STACK=NAME) a deployed stack,
found by its outputs with your AWS credentials and region. Phones are printed masked, as the logs have them.

IAM actions: listing needs cloudformation:DescribeStacks, sqs:GetQueueAttributes on the retry queue,
sqs:ReceiveMessage and sqs:ChangeMessageVisibility on the dead-letter queue, and logs:FilterLogEvents on the
forwarder's log group (for the "why"); redriving adds sqs:SendMessage on the retry queue and sqs:DeleteMessage
on the dead-letter queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from owner_webhook.errors import MalformedMessageError
from owner_webhook.phone import mask
from owner_webhook.retry_queue import QueuedDelivery
from sandbox.aws import RETRY_QUEUE
from tools.stack import LOCAL_ENDPOINT, LocalSession, ToolError, code, deployed, no_local_stack, run

# While listed, each message is hidden from the forwarder (and this listing) this long, then shown again at once.
PEEK_SECONDS = 30
MAX_MESSAGES = 1000


@dataclass
class Queues:
    sqs: Any
    retry_url: str
    dead_letter_url: str
    logs: Any = None  # deployed only: the forwarder's log group says why
    forwarder_log_group: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str

    def delivery(self) -> QueuedDelivery | None:
        try:
            return QueuedDelivery.from_json(self.body)
        except MalformedMessageError:
            return None


def local_queues(endpoint: str) -> Queues:
    """The queues of `make serve`'s moto server; raises ToolError when none answers there."""
    sqs = LocalSession(endpoint).client("sqs")
    try:
        retry = sqs.get_queue_url(QueueName=RETRY_QUEUE)["QueueUrl"]
        dead_letters = sqs.get_queue_url(QueueName=f"{RETRY_QUEUE}-dlq")["QueueUrl"]
    except EndpointConnectionError:
        raise no_local_stack(endpoint) from None
    except ClientError as error:
        raise ToolError(f"the local stack on {endpoint} has no retry queues ({code(error)})") from None
    return Queues(sqs, retry, dead_letters)


def stack_queues(stack: str) -> Queues:
    """A deployed stack's queues and forwarder log group, from its outputs; raises ToolError."""
    found = deployed(stack, ("RetryQueueUrl", "RetryDeadLetterQueueUrl", "ForwarderLogGroupName"))
    return Queues(
        found.session.client("sqs"),
        found.outputs["RetryQueueUrl"],
        found.outputs["RetryDeadLetterQueueUrl"],
        found.session.client("logs"),
        found.outputs["ForwarderLogGroupName"],
    )


def peek(queues: Queues) -> list[DeadLetter]:
    """Every dead letter, received and at once made visible again (the listing takes nothing away)."""
    seen: dict[str, DeadLetter] = {}
    try:
        for batch in _batches(queues, MAX_MESSAGES):
            seen |= {letter.message_id: letter for letter in batch}
    finally:
        _release(queues, list(seen.values()))
    return list(seen.values())


def attempts(queues: Queues) -> str:
    """How many times the forwarder tried each dead letter: the retry queue's maxReceiveCount."""
    attributes = queues.sqs.get_queue_attributes(QueueUrl=queues.retry_url, AttributeNames=["RedrivePolicy"])
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    return str(json.loads(policy)["maxReceiveCount"]) if policy else "?"


def why(queues: Queues, delivery: QueuedDelivery) -> str:
    """The forwarder's last word on the delivery (its failure and problem), when its log group is known."""
    if queues.logs is None or queues.forwarder_log_group is None or '"' in delivery.delivery_id:
        return "-"
    try:
        events = queues.logs.filter_log_events(
            logGroupName=queues.forwarder_log_group,
            startTime=int(delivery.received_at * 1000),
            filterPattern=f'"{delivery.delivery_id}"',
        ).get("events", [])
    except (BotoCoreError, ClientError):
        return "- (the forwarder's log could not be read)"
    for event in reversed(events):
        line = _json(event.get("message", ""))
        if line.get("outcome") == "dead_lettered" and line.get("delivery_id") == delivery.delivery_id:
            return f"{line.get('failure', '?')}: {line.get('problem', '')}".rstrip(": ")
    return "-"


def listing(queues: Queues) -> Iterator[str]:
    letters = peek(queues)
    if not letters:
        yield "the dead-letter queue is empty"
        return
    tries = attempts(queues)
    rows = [("message id", "source", "phone", "received (UTC)", "attempts", "why")]
    for letter in letters:
        delivery = letter.delivery()
        if delivery is None:
            rows.append((letter.message_id, "-", "-", "-", tries, "not a delivery this function wrote"))
            continue
        received = datetime.fromtimestamp(delivery.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        rows.append((letter.message_id, delivery.source, mask(delivery.phone), received, tries, why(queues, delivery)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
    yield ""
    yield f"{len(letters)} dead letter(s): `make redrive ID=<message id>` moves one back to the retry queue."
    if queues.logs is None:
        yield "Why: the forwarder's log line (`outcome` dead_lettered, `failure`, `problem`), which make serve prints."


def redrive(queues: Queues, message_id: str | None) -> str:
    """Send the dead letters (or the one with this id) to the retry queue and delete them where they were."""
    moved = 0
    if message_id is not None:
        letter = _take(queues, message_id)
        queues.sqs.send_message(QueueUrl=queues.retry_url, MessageBody=letter.body)
        queues.sqs.delete_message(QueueUrl=queues.dead_letter_url, ReceiptHandle=letter.receipt_handle)
        return f"moved dead letter {message_id} back to the retry queue; the forwarder forwards it"
    for batch in _batches(queues, None):
        for letter in batch:
            queues.sqs.send_message(QueueUrl=queues.retry_url, MessageBody=letter.body)
            queues.sqs.delete_message(QueueUrl=queues.dead_letter_url, ReceiptHandle=letter.receipt_handle)
            moved += 1
    if moved == 0:
        return "the dead-letter queue is empty: nothing to redrive"
    return f"moved {moved} dead letter(s) back to the retry queue; the forwarder forwards them"


def _take(queues: Queues, message_id: str) -> DeadLetter:
    """The dead letter with this id, received (the others made visible again); raises ToolError if none."""
    others: list[DeadLetter] = []
    try:
        for batch in _batches(queues, MAX_MESSAGES):
            others += [letter for letter in batch if letter.message_id != message_id]
            for letter in batch:
                if letter.message_id == message_id:
                    return letter
    finally:
        _release(queues, others)
    raise ToolError(f"no dead letter with id {message_id}: `make dead-letters` lists them")


def _batches(queues: Queues, limit: int | None) -> Iterator[list[DeadLetter]]:
    """Batches of dead letters, each hidden from other readers for PEEK_SECONDS, until none is left."""
    received = 0
    while limit is None or received < limit:
        batch = queues.sqs.receive_message(
            QueueUrl=queues.dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=PEEK_SECONDS
        ).get("Messages", [])
        if not batch:
            return
        received += len(batch)
        yield [DeadLetter(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in batch]


def _release(queues: Queues, letters: list[DeadLetter]) -> None:
    for letter in letters:
        queues.sqs.change_message_visibility(
            QueueUrl=queues.dead_letter_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
        )


def _json(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # make passes STACK, ENDPOINT and ID in the environment, so that no shell parses them.
    parser.add_argument("command", choices=["list", "redrive"])
    parser.add_argument(
        "--stack", default=os.environ.get("STACK") or None, help="a deployed stack's name (default: make serve's)"
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("ENDPOINT") or LOCAL_ENDPOINT,
        help="the local moto server (default: make serve's)",
    )
    parser.add_argument(
        "--id",
        dest="message_id",
        default=os.environ.get("ID") or None,
        help="redrive only this message (an id make dead-letters shows)",
    )
    args = parser.parse_args(argv)

    def lines() -> Iterator[str]:
        queues = stack_queues(args.stack) if args.stack else local_queues(args.endpoint)
        if args.command == "list":
            yield from listing(queues)
        else:
            yield redrive(queues, args.message_id)

    return run(lines)


if __name__ == "__main__":
    sys.exit(main())
