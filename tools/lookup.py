"""`make lookup`: what the deduplication table knows of one phone, for support ("did my signup arrive?").

The phone is read from the environment (PHONE, as make passes it) or asked for on the terminal (or read from
standard input): never from the command line, where any user of the machine could read it (`ps`).

By default the local stack of a running `make serve`; `--stack NAME` (make's STACK=NAME) a deployed stack,
found by its outputs with your AWS credentials and region. The phone is normalized as the function does it
(with the stack's DefaultPhoneRegion, or --region-code), keyed with the deployment's phone keys, and read
through the deduplication module's own `lookup`. Only the masked phone is printed, never the number or a key.

IAM actions, all reads: cloudformation:DescribeStacks on the stack, secretsmanager:GetSecretValue on the
phone key's secret (output PhoneKeySecretArn) and dynamodb:GetItem on the table (output
IdempotencyTableName); running the printed query needs logs:StartQuery and logs:GetQueryResults on the
webhook's and the forwarder's log groups.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from owner_webhook.credentials import parse_phone_keys
from owner_webhook.deduplication import DynamoDBDeduplication, PhoneRecord, PhoneState
from owner_webhook.delivery_ids import phone_ref
from owner_webhook.errors import DeduplicationUnavailableError, InvalidPhoneError, PhoneKeyError
from owner_webhook.phone import mask, to_e164
from sandbox.aws import IDEMPOTENCY_TABLE, PHONE_KEY_SECRET_ID
from sandbox.stack import PHONE_REGION
from tools.stack import LOCAL_ENDPOINT, LocalSession, ToolError, code, deployed, no_local_stack, run, unreachable

OUTPUTS = ("IdempotencyTableName", "PhoneKeySecretArn", "WebhookLogGroupName", "ForwarderLogGroupName")
_REGION_CODE = re.compile(r"[A-Z]{2}")
_SHOWN = 16  # hex characters of the stored delivery HMAC: enough to tell two apart


@dataclass(frozen=True)
class Deployment:
    """Where a lookup reads: the table, the phone key's secret, the default region, and the log groups."""

    session: boto3.session.Session
    table: str
    phone_key_secret: str
    region_code: str
    where: str
    log_groups: tuple[str, ...] = ()  # none for the local stack: make serve prints its lines
    local_endpoint: str | None = None


def local(endpoint: str) -> Deployment:
    """The local stack of `make serve` (nothing is called yet)."""
    where = f"the local stack on {endpoint}"
    return Deployment(LocalSession(endpoint), IDEMPOTENCY_TABLE, PHONE_KEY_SECRET_ID, PHONE_REGION, where, (), endpoint)


def stack(name: str) -> Deployment:
    """A deployed stack, from its outputs and its DefaultPhoneRegion; raises ToolError."""
    found = deployed(name, OUTPUTS)
    return Deployment(
        found.session,
        found.outputs["IdempotencyTableName"],
        found.outputs["PhoneKeySecretArn"],
        found.parameters.get("DefaultPhoneRegion") or PHONE_REGION,  # the template's default when not given
        f"stack {name!r} ({found.session.region_name})",
        (found.outputs["WebhookLogGroupName"], found.outputs["ForwarderLogGroupName"]),
    )


def normalize(raw: str, region_code: str) -> str:
    """The phone in E.164 as the function reads it; raises ToolError without repeating the number."""
    if not raw.strip():
        raise ToolError("no phone: type it as the customer wrote it when make lookup asks for it")
    if not _REGION_CODE.fullmatch(region_code):
        raise ToolError(f"REGION_CODE {region_code[:8]!r} is not a region: two capital letters, TR, DE, GB...")
    try:
        return to_e164(raw, region_code)
    except InvalidPhoneError:
        digits = [ch for ch in raw if ch.isdigit()]
        given = f"the phone given ({len(digits)} digits{', ending ' + ''.join(digits[-2:]) if len(digits) > 6 else ''})"
        raise ToolError(
            f"{given} is not a valid phone number in region {region_code}: check its digits, write it with its "
            "country code (+...), or give REGION_CODE=<two letters> for the customer's country"
        ) from None


def phone_keys(deployment: Deployment) -> tuple[bytes, ...]:
    """The deployment's phone keys, the current first, read as the function reads them; raises ToolError."""
    try:
        secret = deployment.session.client("secretsmanager").get_secret_value(SecretId=deployment.phone_key_secret)
    except EndpointConnectionError:
        raise unreachable("Secrets Manager", deployment.local_endpoint) from None
    except ClientError as error:
        raise ToolError(
            f"cannot read the phone key's secret ({code(error)}): it takes secretsmanager:GetSecretValue on "
            f"{deployment.phone_key_secret}"
        ) from None
    except BotoCoreError as error:
        raise ToolError(f"cannot reach Secrets Manager: {error}") from None
    try:
        return parse_phone_keys(secret.get("SecretString", secret.get("SecretBinary")))
    except PhoneKeyError as error:
        raise ToolError(f"the phone key's secret is not usable: {error}") from None


def find(deployment: Deployment, phone: str, keys: Sequence[bytes]) -> PhoneRecord | None:
    """What the table knows of the E.164 phone, through the deduplication module; raises ToolError."""
    table = DynamoDBDeduplication(
        deployment.table,
        # The windows shape what a delivery writes; a lookup only reads.
        delivery_window=0,
        phone_window=0,
        min_lifetime=0,
        phone_keys=lambda: keys,
        session=deployment.session,
    )
    try:
        return table.lookup(phone)
    except DeduplicationUnavailableError as error:
        cause = error.__cause__
        if isinstance(cause, EndpointConnectionError) and deployment.local_endpoint is not None:
            raise no_local_stack(deployment.local_endpoint) from None
        why = code(cause) if isinstance(cause, ClientError) else str(cause)
        raise ToolError(
            f"the table {deployment.table} cannot be read ({why}): it takes dynamodb:GetItem on it; retry if "
            "DynamoDB was throttling"
        ) from None


def report(deployment: Deployment, raw: str, region_code: str | None = None) -> Iterator[str]:
    """The lines `make lookup` prints."""
    region = region_code or deployment.region_code
    phone = normalize(raw, region)
    keys = phone_keys(deployment)
    record = find(deployment, phone, keys)
    now = time.time()
    yield f"phone       {mask(phone)} (read with region {region})"
    yield f"table       {deployment.table} of {deployment.where}"
    if record is None:
        under = "the phone key" if len(keys) == 1 else f"any of the {len(keys)} phone keys"
        yield f"state       nothing known under {under}: no delivery of this phone reached the table, or it was"
        yield "            forgotten after its window (the logs below may show a delivery that failed before it)"
    else:
        yield from _record(record, now)
    yield from _logs(deployment, [phone_ref(phone, key) for key in keys])


def _record(record: PhoneRecord, now: float) -> Iterator[str]:
    source = record.source or "a sender this version did not record (written by an earlier version)"
    if record.state is PhoneState.OWNER_CREATED:
        yield f"state       owner created, {_when(record.recorded_at, now)}"
    elif record.state is PhoneState.REFUSED:
        yield f"state       refused by the gateway (a 4xx), {_when(record.recorded_at, now)}"
        yield "            no owner: the next delivery of this phone is forwarded again"
    elif record.lapsed:
        yield "state       in progress, lapsed: the invocation that claimed it ended without an answer (it died"
        yield "            mid-forward); the next delivery takes it over, and an owner it creates is counted as a"
        yield "            possible duplicate (AmbiguousForward)"
    else:
        yield "state       in progress: a delivery of this phone is being forwarded to the gateway right now"
    delivery = f", delivery {record.delivery[:_SHOWN]}... (an HMAC; the logs name its id)" if record.delivery else ""
    yield f"by          {source}{delivery}"
    old = "an older phone key (the secret lists it after the current one)"
    yield f"key         found under {old if record.old_key else 'the current phone key'}"
    yield f"remembered  until {_when(record.expires_at, now)}"


def _logs(deployment: Deployment, refs: list[str]) -> Iterator[str]:
    quoted = ", ".join(f'"{ref}"' for ref in refs)
    query = [
        "    fields @timestamp, @log, message, source, delivery_id, outcome, status, phone",
        f"    | filter phone_ref = {quoted}" if len(refs) == 1 else f"    | filter phone_ref in [{quoted}]",
        "    | sort @timestamp asc",
    ]
    if deployment.log_groups:
        yield f"logs        CloudWatch Logs Insights over {' and '.join(deployment.log_groups)}:"
    else:
        yield f"logs        in make serve's output (its lines with {refs[0]}); deployed, Logs Insights finds them with:"
    yield from query


def _when(epoch: int | None, now: float) -> str:
    if epoch is None:
        return "when not recorded (written by an earlier version)"
    shown = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    seconds = abs(epoch - now)
    span = next(
        f"{round(seconds / unit)} {name}"
        for unit, name in ((86_400, "days"), (3_600, "h"), (60, "min"), (1, "s"))
        if seconds >= unit or unit == 1
    )
    return f"{shown} ({span} ago)" if epoch <= now else f"{shown} (in {span})"


def asked(environ: Mapping[str, str], stdin: TextIO) -> str:
    """The phone: PHONE from the environment, else a line typed at the prompt (or piped in)."""
    given = environ.get("PHONE", "")
    if given.strip():
        return given
    if stdin.isatty():
        print("phone, as the customer wrote it (only its mask is printed): ", end="", file=sys.stderr, flush=True)
    return stdin.readline().rstrip("\n")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, stdin: TextIO | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--stack", default=env.get("STACK") or None, help="a deployed stack's name (default: make serve's local stack)"
    )
    parser.add_argument(
        "--endpoint", default=env.get("ENDPOINT") or LOCAL_ENDPOINT, help="the local moto server (make serve's)"
    )
    parser.add_argument(
        "--region-code",
        default=env.get("REGION_CODE") or None,
        help="the region of a number written without country code (default: the deployment's)",
    )
    args = parser.parse_args(argv)

    def lines() -> Iterator[str]:
        phone = asked(env, sys.stdin if stdin is None else stdin)
        yield from report(stack(args.stack) if args.stack else local(args.endpoint), phone, args.region_code)

    return run(lines)


if __name__ == "__main__":
    sys.exit(main())
