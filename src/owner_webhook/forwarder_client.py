"""The forwarder function, from both ends of its invocation: the webhook's one call, and the answer it gets.

The forwarder (forwarder.py) is the only code of a deployment that calls the gateway; it also drains the retry queue.
Its reserved concurrency is the gateway's ceiling in flight: when every instance is busy, Lambda refuses
the invoke at once (429 TooManyRequestsException), and the webhook queues the delivery; the same
instances forward the queue at the ceiling's pace. The webhook invokes it once (RequestResponse, never
retried by the SDK) and tells it when the answer is due; the answer is the forward's result, or the
failure it ended in, which the webhook raises again as the same error (and queues, or answers).
"""

from __future__ import annotations

import contextvars
import json
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from owner_webhook.aws_clients import CLIENT_CONFIG
from owner_webhook.budget import MIN_FORWARD_SECONDS, Deadline
from owner_webhook.errors import (
    AtCeilingError,
    ForwarderUnavailableError,
    OutOfTimeError,
    TransientError,
    UpstreamAmbiguousError,
    WebhookError,
    error_for,
)
from owner_webhook.outcomes import ALL, Result
from owner_webhook.retry_queue import QueuedDelivery

Fields = dict[str, Any]
# Kept from the forward's time for the invocation's own round trip (the forwarder answers this much early).
INVOKE_SECONDS = 0.2
# The wait for the invocation under way: its read timeout (botocore 1.43.68 and later, as in Lambda's
# runtime, read it from the request's context; the client's own is only the longest any forward is given).
_READ_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar("read_timeout", default=None)


class ForwarderClient:
    """The webhook's client of the forwarder function (FORWARDER_FUNCTION): one Lambda client, built on first use."""

    def __init__(self, function_name: str, session: boto3.session.Session, longest: float) -> None:
        self._name = function_name
        self._session = session
        self._longest = longest  # seconds: the longest forward (FORWARD_BUDGET_SECONDS)
        self._client: Any = None

    def forward(self, delivery: QueuedDelivery, deadline: Deadline, fields: Fields) -> Result:
        """The forwarder's result for `delivery`, by `deadline.forward_by`; what it says goes into `fields`.

        Raises the failure the forwarder ended in (the same WebhookError), AtCeilingError when it takes no
        more now, UpstreamAmbiguousError when no answer came (it may have created the owner), and
        ForwarderUnavailableError when the invocation surely did not run.
        """
        seconds = deadline.forward_by - time.monotonic()
        if seconds < MIN_FORWARD_SECONDS + INVOKE_SECONDS:
            raise OutOfTimeError("too little time was left to forward the delivery; retry")
        request = {"forward": delivery._asdict(), "seconds": round(seconds - INVOKE_SECONDS, 3)}
        # Never past the forward's deadline (the time to queue after it stays whole), and never shorter than
        # the forwarder's own answer takes (it answers INVOKE_SECONDS early).
        waiting = _READ_TIMEOUT.set(seconds)
        started = time.perf_counter()
        try:
            response = self._lambda().invoke(FunctionName=self._name, Payload=json.dumps(request).encode())
            answer = json.loads(response["Payload"].read())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TooManyRequestsException":
                raise AtCeilingError("every forwarder instance is busy: the gateway's ceiling is reached") from None
            fields["forwarder_error"] = error.response.get("Error", {}).get("Code", "unknown")
            raise ForwarderUnavailableError("the forwarder function refused the invocation") from None
        except (EndpointConnectionError, ConnectTimeoutError):
            raise ForwarderUnavailableError("the forwarder function could not be reached") from None
        except (BotoCoreError, ValueError):  # read timeout, dropped connection, an answer cut short
            raise UpstreamAmbiguousError(
                "the forwarder did not answer in time; it may have created the owner"
            ) from None
        finally:
            _READ_TIMEOUT.reset(waiting)
            fields["forwarder_latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if response.get("FunctionError") or not isinstance(answer, dict):  # it crashed or timed out mid-forward
            fields["forwarder_error"] = "function_error"
            raise UpstreamAmbiguousError("the forwarder failed before it answered; it may have created the owner")
        return from_answer(answer, fields)

    def _lambda(self) -> Any:
        if self._client is None:
            client = self._session.client("lambda", config=CLIENT_CONFIG.merge(Config(read_timeout=self._longest)))
            client.meta.events.register("before-parameter-build.lambda.Invoke", _this_invocations_wait)
            self._client = client
        return self._client


def _this_invocations_wait(context: dict[str, Any], **_: Any) -> None:
    """botocore's event before each Invoke: its read timeout, the time left to the forward's deadline."""
    seconds = _READ_TIMEOUT.get()
    if seconds is not None:
        context["read_timeout"] = seconds


def answered(result: Result, fields: Fields) -> dict[str, Any]:
    """The forwarder's answer for a result."""
    also = list(result.also)
    return {"outcome": result.code, "message": result.message, "retry_after": result.retry_after,
            "replayed": result.replayed, "also": also, "fields": fields}  # fmt: skip


def failed(error: WebhookError, fields: Fields) -> dict[str, Any]:
    """The forwarder's answer for a failure."""
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    return {"failure": error.code, "message": error.message, "retry_after": retry_after, "fields": fields}


def from_answer(answer: dict[str, Any], fields: Fields) -> Result:
    """The result an answer tells; raises the failure it tells (UpstreamAmbiguousError if it tells neither)."""
    fields.update(answer.get("fields") or {})
    message, retry_after = answer.get("message"), answer.get("retry_after")
    if "failure" in answer and answer["failure"] in ALL:
        error = error_for(ALL[answer["failure"]])
        if issubclass(error, TransientError):
            raise error(str(message), retry_after=retry_after)
        raise error(str(message))
    if answer.get("outcome") not in ALL:  # another version's answer (mid-deployment): it may have forwarded
        raise UpstreamAmbiguousError("the forwarder's answer could not be read; it may have created the owner")
    also = tuple(str(name) for name in answer.get("also") or ())
    return Result(
        ALL[answer["outcome"]], message, retry_after=retry_after, replayed=bool(answer.get("replayed")), also=also
    )
