"""`make redrive`: move the dead letters back to the retry queue, on the stand-ins of `make serve`.

On AWS the same is one call: `aws sqs start-message-move-task --source-arn <RetryDeadLetterQueueArn>`.
"""

from __future__ import annotations

import argparse

import boto3

from sandbox.aws import REGION, RETRY_QUEUE
from sandbox.queue import move_messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", default="http://127.0.0.1:5001", help="the moto server of make serve")
    args = parser.parse_args()
    sqs = boto3.client(
        "sqs", endpoint_url=args.endpoint, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    queue = sqs.get_queue_url(QueueName=RETRY_QUEUE)["QueueUrl"]
    dead_letters = sqs.get_queue_url(QueueName=f"{RETRY_QUEUE}-dlq")["QueueUrl"]
    moved = move_messages(sqs, dead_letters, queue)
    print(f"moved {moved} dead letter(s) back to {RETRY_QUEUE}; the worker of make serve drains them")


if __name__ == "__main__":
    main()
