"""The stand-ins of the burst soak keep their contracts: the Lambda Invoke API with reserved concurrency
and the SQS event source (sandbox/lambda_service.py), and the gateway's unwritten ceiling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3
from botocore.config import Config

from sandbox import queue
from sandbox.aws import REGION
from sandbox.gateway import Ceiling, Fault
from sandbox.lambda_service import FunctionConfig, LocalLambda, SqsEventSource
from sandbox.stack import Sandbox
from tests.integration.conftest import API_KEY

HANDLER = "tests.integration.lambda_handlers.handler"


@pytest.fixture(scope="module")
def service(sandbox: Sandbox) -> Iterator[LocalLambda]:
    with LocalLambda(
        FunctionConfig("two", HANDLER, 2, timeout=5), FunctionConfig("short", HANDLER, 1, timeout=0.5)
    ) as running:
        yield running


def client(service: LocalLambda) -> Any:
    """boto3's Lambda client as a function builds it: the endpoint from the environment, one attempt."""
    return boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=service.url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def invoke(service: LocalLambda, function: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    answer = client(service).invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


def test_an_invoke_returns_the_handlers_result_within_the_functions_timeout(service: LocalLambda) -> None:
    payload, error = invoke(service, "arn:aws:lambda:eu-central-1:123456789012:function:two:$LATEST", {"n": 1})
    assert error is None
    assert payload["echo"] == {"n": 1}
    assert 4000 < payload["remaining_ms"] <= 5000


def test_a_handler_that_raises_is_a_function_error(service: LocalLambda) -> None:
    payload, error = invoke(service, "two", {"raise": "no"})
    assert error == "Unhandled"
    assert payload == {"errorMessage": "no", "errorType": "ValueError"}


def test_a_handler_past_its_timeout_is_a_function_error_and_its_instance_is_replaced(service: LocalLambda) -> None:
    payload, error = invoke(service, "short", {"sleep": 2})
    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert invoke(service, "short", {"n": 2})[0]["echo"] == {"n": 2}


def test_beyond_the_reserved_concurrency_an_invoke_is_throttled(service: LocalLambda) -> None:
    busy = [threading.Thread(target=invoke, args=(service, "two", {"sleep": 1})) for _ in range(2)]
    for thread in busy:
        thread.start()
    time.sleep(0.3)
    lambda_client = client(service)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as throttled:
        lambda_client.invoke(FunctionName="two", Payload=b"{}")
    assert throttled.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    for thread in busy:
        thread.join(5)
    assert invoke(service, "two", {"n": 3})[0]["echo"] == {"n": 3}


def test_another_function_name_is_not_found(service: LocalLambda) -> None:
    lambda_client = client(service)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="three", Payload=b"{}")


def test_the_event_source_deletes_what_the_batch_response_does_not_name(sandbox: Sandbox, service: LocalLambda) -> None:
    sqs = sandbox.aws.client("sqs")
    for body in ["ok", "fail", "ok", "ok", "fail"]:
        sqs.send_message(QueueUrl=sandbox.queue_url, MessageBody=body)
    function = service.functions["two"]
    with SqsEventSource(function, sqs, sandbox.queue_url, batch_size=10, window=0.2, maximum_concurrency=2) as source:
        deadline = time.monotonic() + 10
        while source.messages < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert source.messages == 5
    # The two failures wait for their visibility timeout; the rest are gone.
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 2


def test_the_gateway_answers_429_above_its_rate_and_slowly_above_its_concurrency(sandbox: Sandbox) -> None:
    sandbox.gateway.limit(Ceiling(rate=3, in_flight=1, retry_after=2, slow_seconds=0.5))
    http = urllib3.PoolManager()
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    def owner(n: int) -> urllib3.BaseHTTPResponse:
        body = json.dumps({"phone": f"+90555000000{n}"}).encode()
        return http.request("POST", sandbox.gateway.url + "/owner", body=body, headers=headers)

    answers = [owner(n) for n in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["Retry-After"] == "2"
    time.sleep(1.05)
    sandbox.gateway.inject(Fault(delay=0.6))  # the next request takes its time, within the ceiling
    first = threading.Thread(target=owner, args=(5,))
    first.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert owner(6).status == 200
    assert time.monotonic() - started >= 0.5  # a second request at once waited
    first.join(5)
    assert sandbox.gateway.peak_rate() == 4
    assert sandbox.gateway.peak_in_flight == 2
