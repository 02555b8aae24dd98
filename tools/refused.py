"""`make refused` and `make replay-refused`: the refusals kept to be replayed, and replaying them after a fix.

By default the local stack of a running `make serve` (its moto server, and its endpoint, which answers
Lambda's Invoke API for the forwarder); `--stack NAME` (make's STACK=NAME) a deployed stack, found by its
outputs with your AWS credentials and region. Make hands its variables (STACK, SOURCE, SINCE, ID, DRY_RUN,
ENDPOINT, LAMBDA_ENDPOINT) to the tool in its environment, never through the shell. Phones are printed
masked, as the logs have them.

A replay invokes the forwarder with each kept refusal (`{"replay": ...}`): the forwarder runs it through
today's recipe and settings as the same delivery (its delivery id), without checking its authentication
again (it was checked when the delivery arrived), keeps it again with its new reason if it is still
refused, and answers. This tool then removes what succeeded.

IAM actions: listing needs cloudformation:DescribeStacks on the stack, s3:ListBucket on the bucket (output
RefusedBucketName), s3:GetObject on its objects and kms:Decrypt on its key (output RefusedKeyArn);
replaying adds lambda:InvokeFunction on the forwarder (output ForwarderFunctionName) and s3:DeleteObject on
the bucket's objects.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from owner_webhook import outcomes
from owner_webhook.errors import MalformedMessageError
from owner_webhook.refusals import KeptRefusal
from sandbox.aws import REFUSED_BUCKET
from sandbox.stack import FORWARDER_FUNCTION
from tools.stack import LOCAL_ENDPOINT, LocalSession, ToolError, code, deployed, run, unreachable

LOCAL_LAMBDA_ENDPOINT = "http://127.0.0.1:3000"  # make serve's endpoint, which answers the Invoke API
OUTPUTS = ("RefusedBucketName", "ForwarderFunctionName")
# One attempt, and longer than the forwarder's 60 s timeout: a replay may forward, so it is never sent twice.
INVOKE_CONFIG = Config(read_timeout=70, retries={"total_max_attempts": 1, "mode": "standard"})
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's limit for a synchronous invocation's request
SUCCEEDED = {outcomes.OWNER_CREATED.code, outcomes.PHONE_EXISTING.code, outcomes.CREATED_UNRECORDED.code}
_DURATION = re.compile(r"(?P<count>[0-9]{1,6})(?P<unit>[mhd])")
_UNITS = {"m": 60, "h": 3600, "d": 86_400}
_YES = ("1", "true", "yes")


@dataclass(frozen=True)
class Store:
    """Where the kept refusals are, and the forwarder that replays them."""

    s3: Any
    bucket: str
    functions: Any  # a Lambda client
    forwarder: str
    where: str
    local_endpoint: str | None = None


@dataclass(frozen=True)
class Listed:
    """A kept refusal, by its object's name (`<source>/<id>`)."""

    key: str
    refusal: KeptRefusal

    @property
    def id(self) -> str:
        return self.key.rpartition("/")[2]


def local_store(endpoint: str, lambda_endpoint: str) -> Store:
    """The bucket of `make serve`'s moto server and the forwarder on its endpoint."""
    return Store(
        LocalSession(endpoint).client("s3"),
        REFUSED_BUCKET,
        LocalSession(lambda_endpoint).client("lambda", config=INVOKE_CONFIG),
        FORWARDER_FUNCTION,
        f"the local stack of make serve ({endpoint})",
        endpoint,
    )


def stack_store(name: str) -> Store:
    """A deployed stack's bucket and forwarder, from its outputs; raises ToolError."""
    try:
        found = deployed(name, OUTPUTS)
    except ToolError as error:
        if "has no output RefusedBucketName" in str(error):
            raise ToolError(
                f"stack {name!r} keeps no refusals: its RefusedRetentionDays is 0, or it runs a version before them"
            ) from None
        raise
    return Store(
        found.session.client("s3"),
        found.outputs["RefusedBucketName"],
        found.session.client("lambda", config=INVOKE_CONFIG),
        found.outputs["ForwarderFunctionName"],
        f"stack {name!r} ({found.session.region_name})",
    )


def since(text: str | None, now: float) -> float | None:
    """SINCE as epoch seconds: a UTC date or time (2026-12-04, 2026-12-04T14:00), or a duration back (90m, 36h,
    7d); raises ToolError."""
    if not text or not text.strip():
        return None
    text = text.strip()
    found = _DURATION.fullmatch(text)
    if found:
        return now - int(found["count"]) * _UNITS[found["unit"]]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ToolError(
            f"SINCE {text[:40]!r} is neither a UTC date or time (2026-12-04, 2026-12-04T14:00) nor a duration "
            "back (90m, 36h, 7d)"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def kept(
    store: Store, *, source: str | None = None, after: float | None = None, ident: str | None = None, now: float
) -> list[Listed]:
    """The refusals still kept (not past their retention), those of `source`, received from `after`, or the one
    with id `ident`; the oldest first. Raises ToolError."""
    found = []
    prefix = f"{source}/" if source else ""
    try:
        for page in store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=prefix):
            for listed in page.get("Contents", []):
                key = listed["Key"]
                if ident is not None and key.rpartition("/")[2] != ident:
                    continue
                # Written when it was refused (or refused again): never before it was received.
                if after is not None and listed["LastModified"].timestamp() < after:
                    continue
                refusal = _read(store, key)
                if refusal is None or (refusal.kept_until and refusal.kept_until < now):
                    continue  # past its retention: S3 deletes it within a day
                if after is None or refusal.received_at >= after:
                    found.append(Listed(key, refusal))
    except EndpointConnectionError:
        raise unreachable("S3", store.local_endpoint) from None
    except ClientError as error:
        raise ToolError(
            f"cannot read the bucket {store.bucket} ({code(error)}): listing takes s3:ListBucket on it, s3:GetObject "
            "on its objects and kms:Decrypt on its key (output RefusedKeyArn)"
        ) from None
    return sorted(found, key=lambda one: one.refusal.received_at)


def _read(store: Store, key: str) -> KeptRefusal | None:
    body = store.s3.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    try:
        return KeptRefusal.from_json(body)
    except MalformedMessageError:
        return None  # not an object this version wrote


def listing(store: Store, refusals: list[Listed], filters: str) -> Iterator[str]:
    if not refusals:
        yield f"no kept refusal{filters} in {store.where}"
        return
    yield f"kept refusals{filters} in {store.where}:"
    rows = [("id", "source", "received (UTC)", "why", "phone", "kept until", "looked at")]
    for one in refusals:
        refusal = one.refusal
        until = _day(refusal.kept_until) if refusal.kept_until else "-"
        looked = ", ".join(refusal.places) or ("the retry queue's phone" if refusal.e164 else "-")
        rows.append((one.id, refusal.source, _when(refusal.received_at), refusal.reason, refusal.phone or "-", until,
                     looked))  # fmt: skip
    yield from _table(rows)
    yield ""
    yield f"{len(refusals)} kept refusal(s). Fix the recipe or the setting, then `make replay-refused` (all, or"
    yield "ID=<id>, SOURCE=<source>, SINCE=<when>; DRY_RUN=1 first to see what each would get)."


def replay(store: Store, refusals: list[Listed], filters: str, *, dry_run: bool) -> Iterator[str]:
    """Invoke the forwarder with each; remove what now succeeds."""
    if not refusals:
        yield f"no kept refusal{filters} in {store.where}: nothing to replay"
        return
    doing = "would get (a dry run: nothing forwarded, nothing removed)" if dry_run else "now gets"
    yield f"replaying {len(refusals)} kept refusal(s){filters} through the forwarder of {store.where}."
    yield "Authentication is not checked again: each delivery was authenticated when it arrived."
    yield f"Each runs through today's recipes and settings as the same delivery; what each {doing}:"
    rows = [("id", "source", "received (UTC)", "outcome", "phone", "what happened")]
    for one in refusals:
        outcome, phone, happened = _replay_one(store, one, dry_run=dry_run)
        rows.append((one.id, one.refusal.source, _when(one.refusal.received_at), outcome, phone, happened))
    yield from _table(rows)


def _replay_one(store: Store, one: Listed, *, dry_run: bool) -> tuple[str, str, str]:
    """(outcome, masked phone, what happened) for one kept refusal."""
    payload = json.dumps({"replay": json.loads(one.refusal.to_json()), "dry_run": dry_run}).encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        return "-", "-", "too large for one invocation (6 MB): it stays kept"
    try:
        response = store.functions.invoke(FunctionName=store.forwarder, Payload=payload)
        answer = json.loads(response["Payload"].read())
    except EndpointConnectionError:
        if store.local_endpoint is not None:
            raise ToolError("make serve's endpoint does not answer: start `make serve`, or give STACK=<name>") from None
        raise unreachable("Lambda", None) from None
    except ClientError as error:
        raise ToolError(
            f"cannot invoke the forwarder {store.forwarder} ({code(error)}): a replay takes lambda:InvokeFunction on it"
        ) from None
    except (BotoCoreError, ValueError):
        return "-", "-", "the forwarder did not answer: it stays kept; replay it again"
    if response.get("FunctionError") or not isinstance(answer, dict):
        return "-", "-", "the forwarder failed (its log says why): it stays kept"
    given = answer.get("fields")
    fields: dict[str, Any] = given if isinstance(given, dict) else {}
    phone = str(fields.get("phone") or "-")
    if "failure" in answer:
        return str(answer["failure"]), phone, f"not replayed ({answer.get('message')}): it stays kept"
    outcome = str(answer.get("outcome"))
    if dry_run:
        return str(fields.get("dry_run_outcome", outcome)), phone, "nothing done"
    if outcome in SUCCEEDED:
        _remove(store, one.key)
        return outcome, phone, "removed from the store"
    if outcome == outcomes.QUEUED.code:  # QueueEveryDelivery: the forwarder takes it from the queue, at its pace
        _remove(store, one.key)
        return outcome, phone, "in the retry queue now (the gateway's pace): removed from the store"
    if outcome in outcomes.ALL and outcomes.ALL[outcome].kept:
        return outcome, phone, _kept_again(store, one, fields)
    return outcome, phone, "it stays kept"


def _kept_again(store: Store, one: Listed, fields: dict[str, Any]) -> str:
    """What became of a refusal its replay refused again: kept with its new reason, or (not kept again) as it was."""
    again = fields.get("refusal_kept")
    if again == one.id:
        return "still refused: kept with its new reason"
    if isinstance(again, str) and again:  # kept under another id (the phone key was replaced): one copy only
        _remove(store, one.key)
        return f"still refused: kept with its new reason as {again}"
    return f"still refused, and not kept again ({fields.get('refusal_not_kept', '?')}): it stays as it was"


def _remove(store: Store, key: str) -> None:
    try:
        store.s3.delete_object(Bucket=store.bucket, Key=key)
    except ClientError as error:
        raise ToolError(
            f"replayed, but cannot remove {key} ({code(error)}): it takes s3:DeleteObject on the bucket's objects; "
            "a second replay of it answers as the first did"
        ) from None


def _table(rows: Sequence[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _described(source: str | None, ident: str | None, after: str | None) -> str:
    said = [f"{name} {value}" for name, value in (("of", source), ("with id", ident), ("since", after)) if value]
    return " " + " ".join(said) if said else ""


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--stack", default=env.get("STACK") or None, help="a deployed stack (default: make serve's)")
    parser.add_argument("--source", default=env.get("SOURCE") or None, help="only this source's")
    parser.add_argument("--since", default=env.get("SINCE") or None, help="received from: 2026-12-04, or 36h")
    parser.add_argument("--id", dest="ident", default=env.get("ID") or None, help="only this one (an id listed)")
    parser.add_argument(
        "--dry-run", action="store_true", default=env.get("DRY_RUN", "").lower() in _YES, help="replay: say only"
    )
    parser.add_argument("--endpoint", default=env.get("ENDPOINT") or LOCAL_ENDPOINT, help="make serve's moto server")
    parser.add_argument(
        "--lambda-endpoint", default=env.get("LAMBDA_ENDPOINT") or LOCAL_LAMBDA_ENDPOINT, help="make serve's endpoint"
    )
    args = parser.parse_args(argv)

    def lines() -> Iterator[str]:
        now = time.time()
        after = since(args.since, now)
        store = stack_store(args.stack) if args.stack else local_store(args.endpoint, args.lambda_endpoint)
        found = kept(store, source=args.source, after=after, ident=args.ident, now=now)
        filters = _described(args.source, args.ident, args.since)
        if args.command == "list":
            yield from listing(store, found, filters)
        else:
            yield from replay(store, found, filters, dry_run=args.dry_run)

    return run(lines)


if __name__ == "__main__":
    sys.exit(main())
