"""`make preflight [STACK=<name>] [PARAMETERS="Name=value ..."]`: before a deploy, whether the account's Lambda
concurrency leaves room for what the stack reserves, and which parameter to set when it does not.

Lambda keeps part of an account's concurrency unreserved: 100, or all of a quota under 100 (a new account's
10, sometimes 50). A reservation that would leave less is refused ("decreases account's
UnreservedConcurrentExecution below its minimum value of [10]"), and the deploy rolls back. The stack reserves
`GatewayConcurrency` for the forwarder, and `ReservedConcurrency` for the webhook when it is not 0; with
`QueueEveryDelivery=true` nothing. The parameters are template.yaml's defaults, then samconfig.toml's
`parameter_overrides` for the configuration (`--config-env`, default `default`), then PARAMETERS. An update
first releases what the stack's functions hold now, so that counts as room.

The stack is samconfig.toml's `stack_name` unless STACK names another; the region is the configuration's
`region` (as `sam deploy --guided` saves it), else AWS_REGION or the profile's.

IAM actions: lambda:GetAccountSettings; for a stack that exists, cloudformation:DescribeStackResources and
lambda:GetFunctionConcurrency.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from tools import template
from tools.stack import ToolError, code, run

SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"
# Lambda keeps this much of an account's concurrency unreserved, or all of a smaller quota.
MINIMUM_UNRESERVED = 100
NO_RESERVATION = "QueueEveryDelivery=true"
# The parameter that sets each function's reservation (its ReservedConcurrentExecutions refers to it).
RESERVED_BY = {"ForwarderFunction": "GatewayConcurrency", "WebhookFunction": "ReservedConcurrency"}


@dataclass(frozen=True)
class Account:
    """A region's Lambda concurrency, as GetAccountSettings tells it."""

    quota: int  # AccountLimit.ConcurrentExecutions
    unreserved: int  # AccountLimit.UnreservedConcurrentExecutions

    @property
    def minimum_unreserved(self) -> int:
        return min(MINIMUM_UNRESERVED, self.quota)

    def room(self, held: int) -> int:
        """What a deploy may reserve: the unreserved concurrency and what the stack holds now, above the minimum."""
        return max(0, self.unreserved + held - self.minimum_unreserved)


def verdict(account: Account, wanted: Mapping[str, int], held: int) -> tuple[bool, list[str]]:
    """Whether the reservations `wanted` (by function) fit, and the lines that say so and what to set."""
    room, total = account.room(held), sum(wanted.values())
    lines = [
        f"account: Lambda concurrency quota {account.quota}, unreserved {account.unreserved}; Lambda keeps at least "
        f"{account.minimum_unreserved} unreserved (100, or all of a quota under 100)",
        "the deploy would reserve "
        + (", ".join(f"{name} {count} ({RESERVED_BY.get(name, name)})" for name, count in wanted.items()) or "nothing")
        + (f"; the stack holds {held} now, released by the update" if held else ""),
    ]
    if total <= room:
        return True, [*lines, f"fits: {total} reserved, {room} could be; deploy as usual"]
    advice = [f"does not fit: {total} reserved, but only {room} can be; the deploy would roll back. Either:"]
    advice.append(
        f"  - deploy with {NO_RESERVATION}: no reserved concurrency; every delivery is answered queued and the "
        "forwarder forwards it from the retry queue, at most GatewayConcurrency at once (docs/deployment.md)"
    )
    webhook = wanted.get("WebhookFunction", 0)
    if room - webhook >= 2 and "ForwarderFunction" in wanted:
        advice.append(f"  - or deploy with GatewayConcurrency={room - webhook}: a lower ceiling that fits")
    advice.append(
        f"  - or ask AWS for a higher quota (Service Quotas, AWS Lambda, Concurrent executions: at least "
        f"{MINIMUM_UNRESERVED + total}), then run make preflight again"
    )
    return False, [*lines, *advice]


def overrides(items: Sequence[str]) -> dict[str, str]:
    """Name=value pairs; raises ToolError for anything else."""
    found = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ToolError(f'{item!r} is not Name=value (PARAMETERS="GatewayConcurrency=5 LogLevel=INFO")')
        found[name] = value
    return found


def held_by(session: boto3.session.Session, stack: str | None) -> int:
    """What the stack's functions reserve now (0 for a stack not deployed yet)."""
    if not stack:
        return 0
    try:
        resources = session.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    except ClientError as error:
        if "does not exist" in str(error):
            return 0
        raise ToolError(f"cannot read stack {stack!r}: {code(error)}") from None
    functions = session.client("lambda")
    held = 0
    for resource in resources:
        if resource["ResourceType"] == "AWS::Lambda::Function":
            found = functions.get_function_concurrency(FunctionName=resource["PhysicalResourceId"])
            held += int(found.get("ReservedConcurrentExecutions") or 0)
    return held


def account(session: boto3.session.Session) -> Account:
    """The region's concurrency quota and unreserved concurrency; raises ToolError."""
    try:
        limit = session.client("lambda").get_account_settings()["AccountLimit"]
    except NoRegionError:
        raise ToolError("no AWS region: set AWS_REGION (or AWS_PROFILE) to the region you deploy to") from None
    except NoCredentialsError:
        raise ToolError("no AWS credentials: set AWS_PROFILE or run `aws configure` / `aws sso login`") from None
    except ClientError as error:
        raise ToolError(f"cannot read the account's Lambda settings ({code(error)}): it takes "
                        "lambda:GetAccountSettings") from None  # fmt: skip
    except BotoCoreError as error:
        raise ToolError(f"cannot reach Lambda: {error}") from None
    return Account(int(limit["ConcurrentExecutions"]), int(limit["UnreservedConcurrentExecutions"]))


def report(stack: str | None, given: Mapping[str, str], config_env: str = "default") -> tuple[bool, list[str]]:
    """Whether the deploy's reservations fit, and the lines that say so (and, if not, what to set)."""
    config = _config(config_env)
    line = config.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    parameters = overrides(shlex.split(line) if isinstance(line, str) else list(line)) | dict(given)
    stack = stack or config.get("global", {}).get("parameters", {}).get("stack_name")
    wanted = template.reservations(template.load(), parameters)
    session = boto3.session.Session(region_name=deploy_region(config))
    found = account(session)
    fits, lines = verdict(found, wanted, held_by(session, stack))
    return fits, [f"stack {stack or '(new)'} in {session.region_name}:", *lines]


def deploy_region(config: Mapping[str, Any]) -> str | None:
    """The region sam deploy goes to: the configuration's (`sam deploy --guided` saves it), else AWS_REGION; None
    leaves it to botocore (AWS_DEFAULT_REGION, the profile's)."""
    for section in ("deploy", "global"):
        saved = config.get(section, {}).get("parameters", {}).get("region")
        if isinstance(saved, str) and saved:
            return saved
    return os.environ.get("AWS_REGION") or None


def _config(config_env: str, path: Path = SAMCONFIG) -> dict[str, Any]:
    """samconfig.toml's configuration: the stack's name and the parameter_overrides sam deploy --guided saved."""
    if not path.is_file():
        return {}
    found: dict[str, Any] = tomllib.loads(path.read_text()).get(config_env, {})
    return found


def main(argv: list[str] | None = None) -> int:
    # make preflight passes its values in the environment (STACK, PARAMETERS, CONFIG_ENV), never a command line.
    env = os.environ
    parser = argparse.ArgumentParser(prog="make preflight", description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--stack", default=env.get("STACK") or None, help="the stack's name (default: samconfig.toml's stack_name)"
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=env.get("PARAMETERS", "").split(),
        help="Name=value, as sam deploy is given it",
    )
    parser.add_argument(
        "--config-env",
        default=env.get("CONFIG_ENV") or "default",
        help="samconfig.toml's configuration (default, prod)",
    )
    arguments = parser.parse_args(argv)
    fitted: list[bool] = []

    def lines() -> Iterator[str]:
        fits, said = report(arguments.stack, overrides(arguments.parameter), arguments.config_env)
        fitted.append(fits)
        return iter(said)

    return run(lines) or (0 if all(fitted) else 1)


if __name__ == "__main__":
    sys.exit(main())
