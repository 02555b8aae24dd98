"""`make lookup` (tools/lookup.py) on what the function wrote to the table of the local stack, and on a stack
found by its outputs, as docs/operations.md ("Did my signup arrive? make lookup") gives it: what the table
knows, the Logs Insights query by `phone_ref`, the masked phone only, and clear errors."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from owner_webhook.budget import Deadline
from owner_webhook.deduplication import DynamoDBDeduplication
from owner_webhook.delivery_ids import phone_ref
from sandbox import senders
from sandbox.aws import IDEMPOTENCY_TABLE, LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import Answer, invoke_event
from tools import lookup

PHONE = "0555 123 45 67"
E164 = "+905551234567"
MASKED = "+90555*****67"
KEY = LOCAL_PHONE_KEY.encode()
NEW_KEY = "a-new-phone-key-for-the-hmac-of-phones-9876543210"
# What must never be printed: the number in any form, and the keys.
PRIVATE = (E164, "5551234567", PHONE, "555 123 45", LOCAL_PHONE_KEY, NEW_KEY)
STACK = "owner-webhook-lookup-test"


def send(source: str, delivery_id: str, phone: str = PHONE) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


def run(capsys: pytest.CaptureFixture[str], phone: str, *argv: str) -> tuple[int, dict[str, str], str]:
    """The tool's exit status, its lines by label ("state", "by", ...; the query as "query"), and all it wrote;
    the phone given as make gives it, in the environment (never on the command line)."""
    capsys.readouterr()  # what the function printed before: its log lines and metrics
    code = lookup.main(list(argv), environ={"PHONE": phone}, stdin=io.StringIO(""))
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    for private in PRIVATE:
        assert private not in printed  # never the number, never a key
    fields: dict[str, str] = {}
    label = ""
    for line in captured.out.splitlines():
        if line.startswith(" " * 12):  # a value continued
            fields[label] += " " + line.strip()
        elif line.startswith(" " * 4):  # the query
            fields["query"] = fields.get("query", "") + line.strip() + "\n"
        else:
            label, _, value = line.partition(" ")
            fields[label] = value.strip()
    return code, fields, printed


def local(sandbox: Sandbox, phone: str = PHONE) -> tuple[str, ...]:
    return (phone, "--endpoint", sandbox.aws.url)


def test_after_a_delivery_it_shows_the_owner_created_by_which_sender_and_when(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send("zapier", "signup-1402").body == {"success": True}
    code, shown, _ = run(capsys, *local(sandbox))
    assert code == 0
    assert shown["phone"] == f"{MASKED} (read with region TR)"
    assert shown["state"].startswith(f"owner created, {time.strftime('%Y-%m-%d', time.gmtime())} ")
    delivery = hmac.new(KEY, b"zapier\0signup-1402", hashlib.sha256).hexdigest()
    assert shown["by"].startswith(f"zapier, delivery {delivery[:16]}...")  # the stored HMAC, never the id
    assert shown["key"] == "found under the current phone key"
    assert shown["remembered"].startswith("until ") and shown["remembered"].endswith(" UTC (in 7 days)")
    assert "make serve's output" in shown["logs"]
    assert f'| filter phone_ref = "{phone_ref(E164, KEY)}"' in shown["query"]  # what the function logged


def test_nothing_known_for_a_phone_never_sent(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert send("zapier", "another-phone", phone="0555 765 43 21").body == {"success": True}
    code, shown, _ = run(capsys, *local(sandbox, "+90 (555) 123-45-67"))  # the same phone, written otherwise
    assert code == 0
    assert shown["phone"].startswith(MASKED)
    assert shown["state"].startswith("nothing known under the phone key")
    assert "by" not in shown
    assert phone_ref(E164, KEY) in shown["query"]  # the logs may still know of a delivery that failed earlier


def test_refused_by_the_gateway(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.gateway.rejected_phones.add(E164)
    assert send("tally", "refused-1").code == "rejected_phone"
    code, shown, _ = run(capsys, *local(sandbox))
    assert code == 0
    assert shown["state"].startswith("refused by the gateway (a 4xx), ")
    assert "the next delivery of this phone is forwarded again" in shown["state"]
    assert shown["by"].startswith("tally, delivery ")


def test_in_progress_while_the_gateway_answers_then_created(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.gateway.inject(Fault(delay=2.0))
    answers: list[Answer] = []
    delivery = threading.Thread(target=lambda: answers.append(send("webflow", "slow-1")))
    delivery.start()
    try:
        deadline = time.monotonic() + 1.8
        shown: dict[str, str] = {}
        while time.monotonic() < deadline and not shown.get("state", "").startswith("in progress"):
            shown = run(capsys, *local(sandbox))[1]
        assert shown["state"] == "in progress: a delivery of this phone is being forwarded to the gateway right now"
        assert shown["by"] == "webflow"  # a claim names its sender, not yet a delivery
    finally:
        delivery.join(10)
    assert answers and answers[0].body == {"success": True}
    assert run(capsys, *local(sandbox))[1]["state"].startswith("owner created, ")


def test_in_progress_lapsed_when_the_invocation_died(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    # What an invocation that died mid-forward leaves: its claim, through the module's own protocol.
    table = DynamoDBDeduplication(
        IDEMPOTENCY_TABLE, delivery_window=259_200, phone_window=604_800, min_lifetime=0, phone_keys=lambda: [KEY]
    )
    ended = time.monotonic() - 5
    table.claim("jotform", "died-1", E164, Deadline(ended, ended, ended), [KEY])
    code, shown, _ = run(capsys, *local(sandbox))
    assert code == 0
    assert shown["state"].startswith("in progress, lapsed: the invocation that claimed it ended without an answer")
    assert "AmbiguousForward" in shown["state"]
    assert shown["by"] == "jotform"


def test_found_under_an_old_key_and_its_logs_under_both(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert send("zapier", "before-the-new-key").body == {"success": True}
    sandbox.aws.put_secret(json.dumps([NEW_KEY, LOCAL_PHONE_KEY]), PHONE_KEY_SECRET_ID)
    try:
        code, shown, _ = run(capsys, *local(sandbox))
    finally:
        sandbox.aws.put_secret(LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID)
    assert code == 0
    assert shown["state"].startswith("owner created, ")
    assert shown["key"] == "found under an older phone key (the secret lists it after the current one)"
    refs = f'"{phone_ref(E164, NEW_KEY.encode())}", "{phone_ref(E164, KEY)}"'
    assert f"| filter phone_ref in [{refs}]" in shown["query"]  # lines logged before and after the new key


def test_make_lookup_reads_the_local_stack_without_any_aws_setting(sandbox: Sandbox) -> None:
    """The command of the docs, as a person runs it: no AWS variables, the phone only masked (make echoes nothing)."""
    assert send("typeform", "by-make").body == {"success": True}
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "--no-print-directory", "lookup", f"PHONE={PHONE}", f"ENDPOINT={sandbox.aws.url}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "state       owner created, " in done.stdout and "by          typeform, delivery " in done.stdout
    assert MASKED in done.stdout
    assert not [private for private in PRIVATE if private in done.stdout + done.stderr]


@pytest.fixture
def stack(sandbox: Sandbox) -> Iterator[str]:
    """A stack whose outputs name the local stack's table and phone key secret, as template.yaml's do."""
    arn = sandbox.aws.client("secretsmanager").describe_secret(SecretId=PHONE_KEY_SECRET_ID)["ARN"]
    template = {
        "Parameters": {"DefaultPhoneRegion": {"Type": "String", "Default": "TR"}},
        "Resources": {
            name: {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/aws/lambda/{STACK}-{suffix}"}}
            for name, suffix in (("WebhookLogGroup", "webhook"), ("ForwarderLogGroup", "forwarder"))
        },
        "Outputs": {
            "IdempotencyTableName": {"Value": IDEMPOTENCY_TABLE},
            "PhoneKeySecretArn": {"Value": arn},
            "WebhookLogGroupName": {"Value": {"Ref": "WebhookLogGroup"}},
            "ForwarderLogGroupName": {"Value": {"Ref": "ForwarderLogGroup"}},
        },
    }
    cloudformation = sandbox.aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "DefaultPhoneRegion", "ParameterValue": "US"}],
    )
    yield STACK
    cloudformation.delete_stack(StackName=STACK)


def test_a_deployed_stack_is_found_by_its_outputs_and_read_with_its_region(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send("zapier", "deployed-1").body == {"success": True}
    code, _, printed = run(capsys, PHONE, "--stack", stack)  # the stack's DefaultPhoneRegion: US
    assert code == 1 and "is not a valid phone number in region US" in printed
    code, shown, _ = run(capsys, PHONE, "--stack", stack, "--region-code", "TR")
    assert code == 0
    assert shown["phone"] == f"{MASKED} (read with region TR)"
    assert shown["table"] == f"{IDEMPOTENCY_TABLE} of stack {stack!r} (eu-central-1)"
    assert shown["state"].startswith("owner created, ") and shown["by"].startswith("zapier, delivery ")
    groups = f"/aws/lambda/{stack}-webhook and /aws/lambda/{stack}-forwarder"
    assert shown["logs"] == f"CloudWatch Logs Insights over {groups}:"
    assert f'| filter phone_ref = "{phone_ref(E164, KEY)}"' in shown["query"]
    code, shown, _ = run(capsys, "+1 212 555 0123", "--stack", stack)
    assert code == 0 and shown["state"].startswith("nothing known")


@pytest.mark.parametrize(
    ("phone", "said"),
    [
        ("0555 123 45", "the phone given (9 digits, ending 45) is not a valid phone number in region TR"),
        ("555 1234 5678 9999", "the phone given (15 digits, ending 99) is not a valid phone number in region TR"),
        ("call me", "the phone given (0 digits) is not a valid phone number in region TR"),
        ("  ", "no phone: type it as the customer wrote it when make lookup asks for it"),
    ],
)
def test_an_invalid_phone_is_said_so_without_repeating_it(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], phone: str, said: str
) -> None:
    code, _, printed = run(capsys, *local(sandbox, phone))
    assert code == 1 and printed.startswith(f"error: {said}")
    assert phone.strip() == "" or phone not in printed
    assert "REGION_CODE" in printed or "no phone" in printed


def test_clear_errors_for_the_region_the_stack_the_credentials_the_local_stack_and_the_table(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    code, _, printed = run(capsys, *local(sandbox), "--region-code", "turkey")
    assert code == 1 and "REGION_CODE 'turkey' is not a region" in printed
    code, _, printed = run(capsys, PHONE, "--stack", "no-such-stack")
    assert code == 1 and "no stack named 'no-such-stack'" in printed
    code, _, printed = run(capsys, PHONE, "--endpoint", f"http://127.0.0.1:{closed_port}")
    assert code == 1 and "no local stack answers" in printed and "make serve" in printed
    sandbox.aws.fail_next("DynamoDB_20120810.GetItem")
    code, _, printed = run(capsys, *local(sandbox))
    assert code == 1 and f"the table {IDEMPOTENCY_TABLE} cannot be read (InternalServerError)" in printed
    assert "dynamodb:GetItem" in printed
    sandbox.aws.put_secret("too-short", PHONE_KEY_SECRET_ID)
    try:
        code, _, printed = run(capsys, *local(sandbox))
    finally:
        sandbox.aws.put_secret(LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID)
    assert code == 1 and "the phone key's secret is not usable" in printed and "too-short" not in printed
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, printed = run(capsys, PHONE, "--stack", STACK)
    assert code == 1 and "no AWS credentials" in printed
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    code, _, printed = run(capsys, PHONE, "--stack", STACK)
    assert code == 1 and "no AWS region: set AWS_REGION" in printed
