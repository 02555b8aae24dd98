"""What the operator tools share: the local stack of `make serve`, or a deployed stack found by its outputs,
and how they say what went wrong."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from sandbox.aws import REGION

LOCAL_ENDPOINT = "http://127.0.0.1:5001"  # make serve's moto server
# A stack on this machine answers at once, or is not running.
LOCAL_CONFIG = Config(retries={"max_attempts": 1})


class ToolError(Exception):
    """What went wrong, said so that the reader knows what to do."""


class LocalSession(boto3.session.Session):
    """The moto server of `make serve`: every client of this session calls `endpoint`, with its local keys."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the moto server's, local only
            region_name=REGION,
        )
        self.endpoint = endpoint

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return super().client(*args, **{"config": LOCAL_CONFIG, **kwargs, "endpoint_url": self.endpoint})


@dataclass(frozen=True)
class Stack:
    """A deployed stack: a session in its region, and its outputs and parameters by name."""

    name: str
    session: boto3.session.Session
    outputs: dict[str, str]
    parameters: dict[str, str]


def deployed(name: str, wanted: Sequence[str]) -> Stack:
    """The stack with this name, which must have the `wanted` outputs; raises ToolError."""
    try:
        # AWS_REGION as Lambda and the AWS CLI read it, else botocore's own (AWS_DEFAULT_REGION, the profile)
        session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        found = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except NoRegionError:
        raise ToolError("no AWS region: set AWS_REGION (or AWS_PROFILE) to the stack's region") from None
    except NoCredentialsError:
        raise ToolError("no AWS credentials: set AWS_PROFILE or run `aws configure` / `aws sso login`") from None
    except ClientError as error:
        if "does not exist" in str(error):
            raise ToolError(f"no stack named {name!r} in {session.region_name}: check STACK and AWS_REGION") from None
        raise ToolError(f"cannot read stack {name!r}: {code(error)}") from None
    except BotoCoreError as error:
        raise ToolError(f"cannot reach CloudFormation: {error}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in found.get("Outputs", [])}
    missing = [key for key in wanted if key not in outputs]
    if missing:
        raise ToolError(f"stack {name!r} has no output {', '.join(missing)}: deploy this version of template.yaml")
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    return Stack(name, session, outputs, parameters)


def no_local_stack(endpoint: str) -> ToolError:
    return ToolError(f"no local stack answers on {endpoint}: start `make serve`, or give STACK=<name>")


def unreachable(service: str, local_endpoint: str | None) -> ToolError:
    """A call that reached nothing: `make serve` not running (a local stack), or no way to AWS."""
    if local_endpoint is not None:
        return no_local_stack(local_endpoint)
    return ToolError(f"cannot reach {service}: check your network and AWS_REGION")


def code(error: ClientError) -> str:
    """The AWS error code of a refused call (AccessDeniedException, ResourceNotFoundException...)."""
    return str(error.response.get("Error", {}).get("Code", "error"))


def run(lines: Callable[[], Iterable[str]]) -> int:
    """Print the tool's lines; a ToolError or a refused AWS call as one line on stderr. The exit status."""
    try:
        for line in lines():
            print(line)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS refused or failed: {error}", file=sys.stderr)
        return 1
    return 0
