"""`make dead-letters` and `make redrive`: what waits in the dead-letter queue, and moving it back.

By default the stand-ins of a running `make serve`; `--stack NAME` (make's STACK=NAME) a deployed stack,
found by its outputs with your AWS credentials and region. Phones are printed masked, as the logs have them.

IAM actions: listing needs cloudformation:DescribeStacks, sqs:GetQueueAttributes on the retry queue,
sqs:ReceiveMessage and sqs:ChangeMessageVisibility on the dead-letter queue, and logs:FilterLogEvents on the
worker's log group (for the "why"); redriving adds sqs:SendMessage on the retry queue and sqs:DeleteMessage
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

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from owner_webhook.errors import MalformedMessageError
from owner_webhook.phone import mask
from owner_webhook.retry_queue import QueuedDelivery
from sandbox.aws import REGION, RETRY_QUEUE

LOCAL_ENDPOINT = "http://127.0.0.1:5001"  # make serve's moto server
# While listed, each message is hidden from the worker (and this listing) this long, then shown again at once.
PEEK_SECONDS = 30
MAX_MESSAGES = 1000


class ToolError(Exception):
    """What went wrong, said so that the reader knows what to do."""


@dataclass
class Queues:
    sqs: Any
    retry_url: str
    dead_letter_url: str
    logs: Any = None  # deployed only: the worker's log group says why
    worker_log_group: str | None = None


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
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the moto server's, local only
        config=Config(retries={"max_attempts": 1}),  # a stack on this machine answers at once, or is not running
    )
    try:
        retry = sqs.get_queue_url(QueueName=RETRY_QUEUE)["QueueUrl"]
        dead_letters = sqs.get_queue_url(QueueName=f"{RETRY_QUEUE}-dlq")["QueueUrl"]
    except EndpointConnectionError:
        raise ToolError(f"no local stack answers on {endpoint}: start `make serve`, or give STACK=<name>") from None
    except ClientError as error:
        raise ToolError(f"the local stack on {endpoint} has no retry queues ({_code(error)})") from None
    return Queues(sqs, retry, dead_letters)


def stack_queues(stack: str) -> Queues:
    """A deployed stack's queues and worker log group, from its outputs; raises ToolError."""
    try:
        # AWS_REGION as Lambda and the AWS CLI read it, else botocore's own (AWS_DEFAULT_REGION, the profile)
        session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        found = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except NoRegionError:
        raise ToolError("no AWS region: set AWS_REGION (or AWS_PROFILE) to the stack's region") from None
    except NoCredentialsError:
        raise ToolError("no AWS credentials: set AWS_PROFILE or run `aws configure` / `aws sso login`") from None
    except ClientError as error:
        if "does not exist" in str(error):
            raise ToolError(f"no stack named {stack!r} in {session.region_name}: check STACK and AWS_REGION") from None
        raise ToolError(f"cannot read stack {stack!r}: {_code(error)}") from None
    except BotoCoreError as error:
        raise ToolError(f"cannot reach CloudFormation: {error}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in found.get("Outputs", [])}
    wanted = ("RetryQueueUrl", "RetryDeadLetterQueueUrl", "RetryWorkerLogGroupName")
    missing = [key for key in wanted if key not in outputs]
    if missing:
        raise ToolError(f"stack {stack!r} has no output {', '.join(missing)}: deploy this version of template.yaml")
    return Queues(
        session.client("sqs"),
        outputs["RetryQueueUrl"],
        outputs["RetryDeadLetterQueueUrl"],
        session.client("logs"),
        outputs["RetryWorkerLogGroupName"],
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
    """How many times the worker tried each dead letter: the retry queue's maxReceiveCount."""
    attributes = queues.sqs.get_queue_attributes(QueueUrl=queues.retry_url, AttributeNames=["RedrivePolicy"])
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    return str(json.loads(policy)["maxReceiveCount"]) if policy else "?"


def why(queues: Queues, delivery: QueuedDelivery) -> str:
    """The worker's last word on the delivery (its failure and problem), when its log group is known."""
    if queues.logs is None or queues.worker_log_group is None or '"' in delivery.delivery_id:
        return "-"
    try:
        events = queues.logs.filter_log_events(
            logGroupName=queues.worker_log_group,
            startTime=int(delivery.received_at * 1000),
            filterPattern=f'"{delivery.delivery_id}"',
        ).get("events", [])
    except (BotoCoreError, ClientError):
        return "- (the worker's log could not be read)"
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
        yield "Why: the worker's log line (`outcome` dead_lettered, `failure`, `problem`), which make serve prints."


def redrive(queues: Queues, message_id: str | None) -> str:
    """Send the dead letters (or the one with this id) to the retry queue and delete them where they were."""
    moved = 0
    if message_id is not None:
        letter = _take(queues, message_id)
        queues.sqs.send_message(QueueUrl=queues.retry_url, MessageBody=letter.body)
        queues.sqs.delete_message(QueueUrl=queues.dead_letter_url, ReceiptHandle=letter.receipt_handle)
        return f"moved dead letter {message_id} back to the retry queue; the worker forwards it"
    for batch in _batches(queues, None):
        for letter in batch:
            queues.sqs.send_message(QueueUrl=queues.retry_url, MessageBody=letter.body)
            queues.sqs.delete_message(QueueUrl=queues.dead_letter_url, ReceiptHandle=letter.receipt_handle)
            moved += 1
    if moved == 0:
        return "the dead-letter queue is empty: nothing to redrive"
    return f"moved {moved} dead letter(s) back to the retry queue; the worker forwards them"


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


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "error"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "redrive"])
    parser.add_argument("--stack", help="a deployed stack's name (default: the local stack of make serve)")
    parser.add_argument("--endpoint", default=LOCAL_ENDPOINT, help="the local moto server (default: make serve's)")
    parser.add_argument("--id", dest="message_id", help="redrive only this message (an id make dead-letters shows)")
    args = parser.parse_args(argv)
    try:
        queues = stack_queues(args.stack) if args.stack else local_queues(args.endpoint)
        if args.command == "list":
            for line in listing(queues):
                print(line)
        else:
            print(redrive(queues, args.message_id))
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS refused or failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
