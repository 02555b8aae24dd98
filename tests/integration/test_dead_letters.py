"""`make dead-letters` and `make redrive` (tools/dead_letters.py) on real dead letters of the local stack,
and on a stack found by its outputs, as docs/operations.md gives them: masked phones only, clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import LOCAL_MAX_RECEIVE_COUNT, Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import invoke_event
from tools import dead_letters

Logs = Callable[[], list[dict[str, Any]]]
STACK = "owner-webhook-test"
# What the stack's outputs give the tool: the template's own names.
STACK_TEMPLATE = {
    "Resources": {
        "RetryDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "RetryQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["RetryDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": LOCAL_MAX_RECEIVE_COUNT,
                }
            },
        },
        "ForwarderLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/aws/lambda/{STACK}"}},
    },
    "Outputs": {
        "RetryQueueUrl": {"Value": {"Ref": "RetryQueue"}},
        "RetryDeadLetterQueueUrl": {"Value": {"Ref": "RetryDeadLetterQueue"}},
        "ForwarderLogGroupName": {"Value": {"Ref": "ForwarderLogGroup"}},
    },
}


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


@pytest.fixture
def dead(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """Two deliveries the gateway kept failing, dead-lettered by the forwarder as deployed."""
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    sandbox.gateway.chaos(1.0, [Fault(status=500)], seed=3)
    for source, phone, delivery_id in (("jotform", "0555 123 45 67", "dead-a"), ("tally", "0555 765 43 21", "dead-b")):
        assert invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id))).body == {
            "success": True,
            "queued": True,
        }
    for _ in range(LOCAL_MAX_RECEIVE_COUNT + 1):
        queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder)
    assert queue.depth(sandbox.aws, sandbox.dead_letter_url) == 2
    sandbox.gateway.chaos(0, [], seed=0)
    yield sandbox


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the function printed before: its log lines and metrics
    code = dead_letters.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_list_shows_source_masked_phone_when_and_attempts_and_takes_nothing(
    dead: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", "--endpoint", dead.aws.url)
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:3]]
    assert sorted((row[1], row[2], row[5]) for row in rows) == [
        ("jotform", "+90555*****67", str(LOCAL_MAX_RECEIVE_COUNT)),
        ("tally", "+90555*****21", str(LOCAL_MAX_RECEIVE_COUNT)),
    ]
    assert time.strftime("%Y-%m-%d", time.gmtime()) in out
    assert "5551234567" not in out and "5557654321" not in out  # never a whole phone
    assert "2 dead letter(s)" in out
    assert queue.depth(dead.aws, dead.dead_letter_url) == 2  # listing leaves them where they are
    code, again, _ = run(capsys, "list", "--endpoint", dead.aws.url)  # and at once visible again
    assert again.splitlines()[1:3] == out.splitlines()[1:3]


def test_redrive_one_by_id_then_all(dead: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "list", "--endpoint", dead.aws.url)
    jotform = next(line.split()[0] for line in out.splitlines() if " jotform " in line)
    code, out, _ = run(capsys, "redrive", "--endpoint", dead.aws.url, "--id", jotform)
    assert code == 0 and jotform in out
    assert queue.depth(dead.aws, dead.dead_letter_url) == queue.depth(dead.aws, dead.queue_url) == 1
    queue.drain(dead.aws, dead.queue_url, forwarder)
    assert dead.gateway.owners == ["+905551234567"]  # the one redriven, and only it
    code, _, err = run(capsys, "redrive", "--endpoint", dead.aws.url, "--id", jotform)
    assert code == 1 and "no dead letter with id" in err
    code, out, _ = run(capsys, "redrive", "--endpoint", dead.aws.url)
    assert code == 0 and "moved 1 dead letter(s)" in out
    queue.drain(dead.aws, dead.queue_url, forwarder)
    assert sorted(dead.gateway.owners) == ["+905551234567", "+905557654321"]
    assert run(capsys, "list", "--endpoint", dead.aws.url)[1].strip() == "the dead-letter queue is empty"
    assert "nothing to redrive" in run(capsys, "redrive", "--endpoint", dead.aws.url)[1]


def test_a_deployed_stack_is_found_by_its_outputs_and_the_forwarder_log_says_why(
    logs: Logs, dead: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:  # logs first: it records the forwarder's lines while `dead` makes the dead letters
    # The stack's dead-letter queue holds the local dead letters; its log group, the forwarder's own lines.
    cloudformation = dead.aws.client("cloudformation")
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(STACK_TEMPLATE))
    try:
        outputs = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
        stack_dlq = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "RetryDeadLetterQueueUrl")
        assert queue.move_messages(dead.aws.client("sqs"), dead.dead_letter_url, stack_dlq) == 2
        group, lines = f"/aws/lambda/{STACK}", [json.dumps(line) for line in logs() if "receive_count" in line]
        assert len(lines) == 2 * LOCAL_MAX_RECEIVE_COUNT
        logs_client = dead.aws.client("logs")
        logs_client.create_log_stream(logGroupName=group, logStreamName="forwarder")
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        logs_client.put_log_events(logGroupName=group, logStreamName="forwarder", logEvents=events)
        code, out, _ = run(capsys, "list", "--stack", STACK)
        assert code == 0, out
        rows = [line for line in out.splitlines() if "+90555" in line]
        assert len(rows) == 2 and all("upstream_unavailable" in row for row in rows)  # why: the forwarder's failure
        assert all(f" {LOCAL_MAX_RECEIVE_COUNT} " in row for row in rows)  # attempts: the stack's redrive policy
        assert "5551234567" not in out
    finally:
        cloudformation.delete_stack(StackName=STACK)


def test_clear_errors_for_a_missing_stack_no_credentials_and_no_local_stack(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    code, _, err = run(capsys, "list", "--stack", "no-such-stack")
    assert code == 1 and "no stack named 'no-such-stack'" in err
    code, _, err = run(capsys, "list", "--endpoint", f"http://127.0.0.1:{closed_port}")
    assert code == 1 and "no local stack answers" in err and "make serve" in err
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run(capsys, "list", "--stack", STACK)
    assert code == 1 and "no AWS credentials" in err


def test_make_dead_letters_and_make_redrive_read_the_local_stack_endpoint_names(dead: Sandbox) -> None:
    """docs/operations.md: ENDPOINT=<moto server> for a make serve on other ports, as make lookup takes it."""
    make = shutil.which("make")
    assert make is not None

    def made(*values: str) -> subprocess.CompletedProcess[str]:
        arguments = [make, "--no-print-directory", *values, f"ENDPOINT={dead.aws.url}"]
        return subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    listed = made("dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert "2 dead letter(s)" in listed.stdout and "5551234567" not in listed.stdout
    jotform = next(line.split()[0] for line in listed.stdout.splitlines() if " jotform " in line)
    moved = made("redrive", f"ID={jotform}")
    assert moved.returncode == 0, moved.stderr
    assert queue.depth(dead.aws, dead.dead_letter_url) == queue.depth(dead.aws, dead.queue_url) == 1
