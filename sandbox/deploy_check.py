"""`make deploy-check`: template.yaml deployed with `sam build` and `sam deploy` to MiniStack, an AWS emulator
written elsewhere (its own environment, .deploy/), then used through the deployed HTTP API as a sender uses it.

Where the emulator cannot host what the template says, the check deploys a copy derived at check time:
CHANGES below is every change, with its reason (docs/deployment.md lists the same; a unit test keeps the two
equal). The emulator models a new account's Lambda concurrency quota of 10 for `make preflight`.

Everything it starts (the emulator and its function processes, the gateway stand-in, a temporary folder)
is stopped or removed however the check ends. A failure says which check failed, then the emulator's lines
and the functions' log lines that tell why.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import urllib3

from owner_webhook.deduplication import PhoneRecord, PhoneState
from owner_webhook.phone import mask
from sandbox import base_image, senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import HttpRequest
from sandbox.gateway import Fault, SandboxGateway
from sandbox.runtime import free_port
from tools import lookup, template

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_PYTHON = ROOT / ".deploy" / "bin" / "python"
SAM = ROOT / ".venv" / "bin" / "sam"
QUOTA = 10  # a new account's Lambda concurrency quota, as the emulator reports it to make preflight
REGION = "eu-central-1"
SECRET_NAME = "owner-webhook/dev"  # as the README's deploy names it
STACK = "owner-webhook-check"  # the default parameters: the webhook invokes the forwarder
QUEUED_STACK = "owner-webhook-queued"  # QueueEveryDelivery=true: no reserved concurrency
# Parameters as a user gives them. The emulator runs the functions on its own interpreter, so the bundle is
# built for this machine; failed messages come back after 1 s, then 2, 4 (not 60 s, 120...) so a drain
# takes seconds.
PARAMETERS = {"Architecture": base_image.architecture(), "RetryDelaySeconds": "1"}
WAIT_SECONDS = 40  # the longest a drain may take here


class DeployCheckError(Exception):
    """A promise the deployed stack did not keep, or a step that did not run."""


@dataclass(frozen=True)
class Emulator:
    """MiniStack on 127.0.0.1:`port`, and the environment that points AWS clients at it."""

    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",  # the emulator's own account, local only
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",  # never a profile of this machine's: nothing reaches AWS
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "SAM_CLI_TELEMETRY": "0",
        }


@dataclass(frozen=True)
class Target:
    """A stack the check deploys (or deployed): its name, where, and the parameters it is given."""

    name: str
    emulator: Emulator
    given: dict[str, str]

    @property
    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=REGION)

    def physical(self, logical: str) -> str:
        found = self.session.client("cloudformation").describe_stack_resource(
            StackName=self.name, LogicalResourceId=logical
        )
        return str(found["StackResourceDetail"]["PhysicalResourceId"])


# --- What the derived copy changes, and why: one row each (docs/deployment.md, "make deploy-check"). ---

Template = dict[str, Any]


def _leave_out(kind: str, *, metrics: bool = False) -> Callable[[Template, Target], list[str]]:
    def change(derived: Template, _target: Target) -> list[str]:
        resources = derived["Resources"]
        names = [
            name
            for name, resource in resources.items()
            if resource["Type"] == kind and (not metrics or "Metrics" in resource["Properties"])
        ]
        for name in names:
            del resources[name]
        return names

    return change


def _leave_out_dangling(derived: Template, _target: Target) -> list[str]:
    """Resources and outputs that refer to a resource no longer there (until none does)."""
    removed: list[str] = []
    while True:
        known = set(derived["Resources"]) | set(derived["Parameters"])
        dangling = [
            (section, name)
            for section in ("Resources", "Outputs")
            for name, entry in derived[section].items()
            if _references(entry) - known
        ]
        if not dangling:
            return removed
        for section, name in dangling:
            del derived[section][name]
            removed.append(name)


def _references(value: Any) -> set[str]:
    """The logical ids a piece of the template refers to (Ref, GetAtt, ${...} in a Sub)."""
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, argument in value.items():
        if key == "Ref" and isinstance(argument, str):
            found.add(argument.split(".")[0])
        elif key == "Fn::GetAtt":
            found.add((argument[0] if isinstance(argument, list) else str(argument)).split(".")[0])
        elif key == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) else argument
            found |= {part.split("}")[0].split(".")[0] for part in str(text).split("${")[1:] if "}" in part}
            found |= _references(argument[1]) if isinstance(argument, list) else set()
        else:
            found |= _references(argument)
    return {name for name in found if "::" not in name and not name.startswith("!")}  # not AWS::StackName, ${!x}


def _add_route(derived: Template, _target: Target) -> list[str]:
    resources = derived["Resources"]
    event = resources["WebhookFunction"]["Properties"]["Events"]["Webhook"]["Properties"]
    resources["WebhookIntegration"] = {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": event["ApiId"],
            "IntegrationType": "AWS_PROXY",
            "PayloadFormatVersion": "2.0",
            "IntegrationUri": {"Fn::GetAtt": ["WebhookFunction", "Arn"]},
        },
    }
    resources["WebhookRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": event["ApiId"],
            "RouteKey": f"{event['Method']} {event['Path']}",
            "Target": {"Fn::Sub": "integrations/${WebhookIntegration}"},
        },
    }
    return ["WebhookIntegration", "WebhookRoute"]


def _maximum_concurrency_as_number(derived: Template, target: Target) -> list[str]:
    changed = []
    values = template.parameters(derived, target.given)
    for name, resource in derived["Resources"].items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            scaling = event.get("Properties", {}).get("ScalingConfig", {})
            value = scaling.get("MaximumConcurrency")
            if isinstance(value, dict) and set(value) == {"Ref"}:
                scaling["MaximumConcurrency"] = int(values[value["Ref"]])
                changed.append(name)
    return changed


def _endpoint_of_the_emulator(derived: Template, target: Target) -> list[str]:
    variables = derived["Globals"]["Function"]["Environment"]["Variables"]
    variables["AWS_ENDPOINT_URL"] = target.emulator.endpoint
    return ["Globals"]


def _code_by_full_path(derived: Template, _target: Target) -> list[str]:
    changed = []
    for name, resource in derived["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = str(ROOT / resource["Properties"]["CodeUri"])
            changed.append(name)
    return changed


def _plain_http_allowed(derived: Template, _target: Target) -> list[str]:
    changed = []
    for name, resource in derived["Resources"].items():
        if resource["Type"] != "AWS::S3::BucketPolicy":
            continue
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        kept = [s for s in statements if "aws:SecureTransport" not in s.get("Condition", {}).get("Bool", {})]
        if len(kept) < len(statements):
            resource["Properties"]["PolicyDocument"]["Statement"] = kept
            changed.append(name)
    return changed


def _punctuation_excluded_by_name(derived: Template, _target: Target) -> list[str]:
    changed = []
    for name, resource in derived["Resources"].items():
        generated = resource.get("Properties", {}).get("GenerateSecretString", {})
        if generated.get("ExcludePunctuation"):
            generated["ExcludeCharacters"] = generated.get("ExcludeCharacters", "") + string.punctuation
            changed.append(name)
    return changed


def _reserve_through_the_api(stack: Target) -> list[str]:
    reserved = template.reservations(template.load(), stack.given)
    functions = stack.session.client("lambda")
    for logical, count in reserved.items():
        functions.put_function_concurrency(FunctionName=stack.physical(logical), ReservedConcurrentExecutions=count)
    return [f"{logical}={count}" for logical, count in reserved.items()]


@dataclass(frozen=True)
class Change:
    what: str  # what the derived copy, or a call after the deploy, does
    why: str  # the emulator's gap it gets past
    before: Callable[[Template, Target], list[str]] | None = None  # on the copy; what it changed
    after: Callable[[Target], list[str]] | None = None  # through the API, once deployed


CHANGES = (
    Change(
        "leaves out each `AWS::Logs::QueryDefinition` (the saved queries)",
        "MiniStack refuses the resource type when it creates the change set",
        before=_leave_out("AWS::Logs::QueryDefinition"),
    ),
    Change(
        "leaves out each alarm with `Metrics` (metric math, Metrics Insights)",
        "MiniStack fails to create them, and the stack rolls back",
        before=_leave_out("AWS::CloudWatch::Alarm", metrics=True),
    ),
    Change(
        "leaves out what refers to a resource left out: the dashboard and the `DashboardUrl` output",
        "they would name alarms that do not exist",
        before=_leave_out_dangling,
    ),
    Change(
        "adds an `AWS::ApiGatewayV2::Integration` and `Route` for `POST /webhooks/{source}` to the webhook",
        "MiniStack ignores the OpenAPI body SAM writes for an HTTP API: the API would have no route",
        before=_add_route,
    ),
    Change(
        "writes the retry queue's `MaximumConcurrency` as the number `GatewayConcurrency` is given",
        "MiniStack hands a parameter's value to its SQS poller as a string, which breaks every event source",
        before=_maximum_concurrency_as_number,
    ),
    Change(
        "sets `AWS_ENDPOINT_URL` to the emulator",
        "the template declares it empty (AWS's endpoints); MiniStack sets its own only where a function does not",
        before=_endpoint_of_the_emulator,
    ),
    Change(
        "gives each function's `CodeUri` as a full path",
        "the copy is written to a temporary folder, not beside `src/`",
        before=_code_by_full_path,
    ),
    Change(
        "leaves out the kept refusals' bucket policy statement that refuses requests without TLS",
        "MiniStack is reached over plain HTTP, so `aws:SecureTransport` is false for every call of the functions "
        "(AWS's endpoints are HTTPS); the statements on the encryption stay, and are enforced",
        before=_plain_http_allowed,
    ),
    Change(
        "names each punctuation character in `ExcludeCharacters` where a generated secret has `ExcludePunctuation`",
        "MiniStack ignores `ExcludePunctuation` (it honours `ExcludeCharacters`): one phone key in 94 would begin "
        "with `[`, which the function reads as a broken JSON list of keys and refuses",
        before=_punctuation_excluded_by_name,
    ),
    Change(
        "after the deploy, reserves each function's concurrency with `PutFunctionConcurrency`, as its "
        "`ReservedConcurrentExecutions` resolves for the parameters",
        "MiniStack drops `ReservedConcurrentExecutions` from CloudFormation (it enforces the API's)",
        after=_reserve_through_the_api,
    ),
)


def derive(target: Target) -> Template:
    """template.yaml with every change of CHANGES made; raises DeployCheckError for a change that changed nothing
    (the list would no longer be true)."""
    derived = template.load()
    for change in CHANGES:
        if change.before is not None and not change.before(derived, target):
            raise DeployCheckError(f"the change that {change.what} changed nothing: update CHANGES and docs")
    return derived


# --- Running it ---


@contextlib.contextmanager
def emulator(folder: Path) -> Iterator[Emulator]:
    """MiniStack on a free port of 127.0.0.1 (no other listener), in its own process group: stopped, with
    the functions' processes it started, however the check ends."""
    if not EMULATOR_PYTHON.exists():
        raise DeployCheckError(f"no {EMULATOR_PYTHON}: run `make deploy-check`, which installs MiniStack there")
    started = Emulator(free_port(), folder / "ministack.log")
    settings = {
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(started.port),
        "MINISTACK_REGION": REGION,
        "AUTH": "true",  # the functions' roles are evaluated: the template's policies must allow each call
        "LAMBDA_ACCOUNT_CONCURRENCY": str(QUOTA),
        "IOT_MTLS_ENABLED": "0",  # its other listeners (MQTT, SFTP) would take fixed ports on every address
        "SFTP_ENABLED": "0",
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))} | settings
    with started.log.open("w") as log:
        process = subprocess.Popen(
            [str(EMULATOR_PYTHON), "-m", "ministack"],
            cwd=folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{started.endpoint}/_ministack/health", timeout=1).close()  # noqa: S310
                break
            time.sleep(0.2)
        else:
            raise DeployCheckError("MiniStack did not start")
        yield started
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def sam(arguments: list[str], emulator: Emulator, folder: Path, extra: dict[str, str] | None = None) -> str:
    """A SAM CLI command against the emulator, run in `folder`; raises DeployCheckError with its output."""
    shown = " ".join(arguments[:2])
    print(f"$ sam {' '.join(arguments)}", flush=True)
    environment = {**os.environ, **emulator.environment(), **(extra or {})}
    done = subprocess.run(
        [str(SAM), *arguments], cwd=folder, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise DeployCheckError(f"sam {shown} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def build(target: Target, folder: Path) -> None:
    """The derived copy written to `folder` and built, as `make build` builds (src/Makefile)."""
    derived = derive(target)
    (folder / "template.json").write_text(json.dumps(derived, indent=1))
    architecture = target.given["Architecture"]
    sam(
        ["build", "--template", "template.json", "--build-dir", "build", "--parameter-overrides",
         f"Architecture={architecture}"],
        target.emulator,
        folder,
        {"ARCHITECTURE": architecture},
    )  # fmt: skip


def deploy(target: Target, folder: Path, secret_arn: str) -> None:
    """`sam deploy`, non-guided, with the parameters a user gives; then the changes made through the API."""
    given = {**target.given, "ApiKeySecretArn": secret_arn}
    sam(
        ["deploy", "--template-file", "build/template.yaml", "--stack-name", target.name, "--resolve-s3",
         "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset", "--parameter-overrides",
         *(f"{name}={value}" for name, value in given.items())],
        target.emulator,
        folder,
    )  # fmt: skip
    for change in CHANGES:
        if change.after is not None:
            print(f"  {change.what}: {', '.join(change.after(target)) or 'nothing to do'}")


def create_secret(session: boto3.session.Session) -> str:
    """The secret, created as the README's deploy creates it (the sandbox senders' local secrets); its ARN."""
    created = session.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=json.dumps(LOCAL_SECRET))
    return str(created["ARN"])


class Api:
    """The deployed HTTP API of a stack, as a sender reaches it (MiniStack routes by the Host header)."""

    def __init__(self, stack: Target) -> None:
        self._api = stack.physical("WebhookApi")
        self._stack = stack
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))

    def post(self, request: HttpRequest, query: str = "") -> tuple[int, dict[str, Any]]:
        port = self._stack.emulator.port
        query = "&".join(part for part in (request.query, query) if part)
        response = self._http.request(
            "POST",
            f"{self._stack.emulator.endpoint}{request.path}{'?' + query if query else ''}",
            body=request.body,
            headers={**request.headers, "Host": f"{self._api}.execute-api.localhost:{port}"},
        )
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, {"unreadable": response.data[:200].decode("utf-8", "replace")}


def check(condition: bool, what: str, got: object = "") -> None:
    if not condition:
        raise DeployCheckError(f"NOT as expected: {what}; got {got}")
    print(f"  ok: {what}", flush=True)


def until(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


class Reader:
    """What the deployed stack holds: its table (through make lookup's code), its queues, its log lines."""

    def __init__(self, stack: Target) -> None:
        self.stack = stack
        self._deployment = lookup.stack(stack.name)
        self._keys = lookup.phone_keys(self._deployment)
        sqs = stack.session.client("sqs")
        self._sqs = sqs
        self.queues = {logical: stack.physical(logical) for logical in ("RetryQueue", "RetryDeadLetterQueue")}

    def record(self, phone: str) -> PhoneRecord | None:
        return lookup.find(self._deployment, phone, self._keys)

    def created_by(self, phone: str) -> str | None:
        """The sender whose delivery created the phone's owner, per the table (None: no owner recorded)."""
        found = self.record(phone)
        return found.source if found is not None and found.state == PhoneState.OWNER_CREATED else None

    def depth(self, logical: str) -> int:
        found = self._sqs.get_queue_attributes(
            QueueUrl=self.queues[logical],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(found["ApproximateNumberOfMessages"]) + int(found["ApproximateNumberOfMessagesNotVisible"])

    def log_lines(self, function: str) -> list[dict[str, Any]]:
        """The function's JSON log lines (its log group in the emulator's CloudWatch Logs)."""
        group = f"/aws/lambda/{self.stack.name}-{function}"
        logs = self.stack.session.client("logs")
        lines = []
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
                for event in page["events"]:
                    with contextlib.suppress(ValueError):
                        line = json.loads(event["message"])
                        if isinstance(line, dict):
                            lines.append(line)
        return lines


# --- The checks ---

KEY = f"Bearer {LOCAL_SECRET['api_key']}"


def preflight_says(target: Target, *parameters: str) -> tuple[int, str]:
    """`make preflight` against the emulator: its exit status and what it printed."""
    command = [sys.executable, "-m", "tools.preflight", "--stack", target.name]
    command += [argument for parameter in parameters for argument in ("--parameter", parameter)]
    print(f"$ make preflight STACK={target.name}" + (f' PARAMETERS="{" ".join(parameters)}"' if parameters else ""))
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **target.emulator.environment()}, capture_output=True, text=True
    )
    said = done.stdout + done.stderr
    print("  " + said.strip().replace("\n", "\n  "), flush=True)
    return done.returncode, said


def through_the_forwarder(stack: Target, gateway: SandboxGateway) -> None:
    """A signed delivery created, the same phone existing, a forged one 401, a dry run that creates nothing."""
    api, reader = Api(stack), Reader(stack)
    phone = "+905551234567"
    answer = api.post(senders.request("typeform", "0555 123 45 67"))
    check(answer == (200, {"success": True}), "a signed Typeform delivery is answered 200", answer)
    sent = [(r.phone, r.authorization) for r in gateway.received]
    check(sent == [(phone, KEY)], f"the gateway stand-in received {mask(phone)} with the key", sent)
    check(
        reader.created_by(phone) == "typeform",
        "the table records its owner, created for typeform",
        reader.record(phone),
    )
    answer = api.post(senders.request("typeform", "0555 123 45 67"))  # another submission of the same phone
    check(answer == (200, {"success": True, "existing": True}), "the same phone again is answered existing", answer)
    check(len(gateway.received) == 1, "and the gateway is not called again", len(gateway.received))
    forged = senders.request("typeform", "0555 123 45 70", secret="not-the-typeform-secret")
    status, body = api.post(forged)
    check((status, body.get("error", {}).get("code")) == (401, "unauthenticated"), "a forged delivery is 401", body)
    check(
        len(gateway.received) == 1 and reader.record("+905551234570") is None, "and reaches neither gateway nor table"
    )
    status, body = api.post(senders.request("zapier", "0555 123 45 71"), "dry_run=1")
    expected = {"success": True, "dry_run": True, "outcome": "owner_created", "phone": "+90555*****71"}
    check(status == 200 and expected.items() <= body.items(), "a dry run is answered 200 with what would happen", body)
    nothing = len(gateway.received) == 1 and reader.record("+905551234571") is None and reader.depth("RetryQueue") == 0
    check(nothing, "and creates nothing: no gateway call, no record, no message")
    lines = [line for line in reader.log_lines("webhook") if line.get("message") == "webhook answered"]
    outcomes_logged = [line.get("outcome") for line in lines]
    check(
        outcomes_logged == ["owner_created", "phone_existing", "unauthenticated", "dry_run"],
        "the webhook's log group has one line per request, with its outcome",
        outcomes_logged,
    )
    check(not any("5551234567" in json.dumps(line) for line in lines), "and no phone but masked ones")


def outage(stack: Target, gateway: SandboxGateway) -> None:
    """The gateway down (503 to every request, as make demo plays it): a Jotform delivery queued, and drained by
    the event source once the gateway is back."""
    api, reader = Api(stack), Reader(stack)
    phone = "+905557654321"
    gateway.chaos(1.0, [Fault(status=503, retry_after=1)], seed=0)
    answer = api.post(senders.request("jotform", "0555 765 43 21"))
    check(
        answer == (200, {"success": True, "queued": True}),
        "gateway down: Jotform (never retries) is answered queued",
        answer,
    )
    # The claim first: the event source may soon run the forwarder, which claims the phone while it calls.
    check(reader.record(phone) is None, "the table holds no claim of it (released when it was queued)")
    check(reader.depth("RetryQueue") == 1, "the retry queue holds its delivery", reader.depth("RetryQueue"))

    def retried() -> bool:
        return any(line.get("outcome") == "retry_later" for line in reader.log_lines("forwarder"))

    check(until(retried), "the event source ran the forwarder, which found the gateway down: retry_later")
    gateway.chaos(0, [], seed=0)
    check(
        until(lambda: phone in gateway.owners),
        f"gateway back: the forwarder created {mask(phone)}'s owner",
        gateway.owners,
    )
    check(until(lambda: reader.depth("RetryQueue") == 0), "the retry queue is empty")
    check(reader.depth("RetryDeadLetterQueue") == 0, "the dead-letter queue is empty")
    check(
        reader.created_by(phone) == "jotform", "the table records its owner, created for jotform", reader.record(phone)
    )
    drained = [line for line in reader.log_lines("forwarder") if line.get("outcome") == "drained"]
    counts = [line.get("receive_count") for line in drained]
    check(
        len(counts) == 1 and int(counts[0] or 0) >= 2,
        "the forwarder's log: drained once, after a failed receive",
        counts,
    )


def tool(target: Target, *argv: str) -> tuple[int, str]:
    """An operator tool (`make refused`, ...) run against the deployed stack: its exit status and what it printed."""
    print(f"$ {' '.join(argv)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        env={**os.environ, **target.emulator.environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = done.stdout + done.stderr
    print("  " + said.strip().replace("\n", "\n  "), flush=True)
    return done.returncode, said


def kept_refusal(stack: Target, gateway: SandboxGateway) -> None:
    """A phone the gateway refuses: kept in the stack's bucket (the webhook's role may write it, past the bucket
    policy), listed by make refused, and replayed by make replay-refused through the deployed forwarder."""
    api = Api(stack)
    phone = "+905553334455"
    gateway.rejected_phones.add(phone)
    status, body = api.post(senders.request("typeform", "0555 333 44 55"))
    check(
        (status, body.get("error", {}).get("code")) == (200, "rejected_phone"),
        "a phone the gateway refuses is answered 200 rejected_phone (Typeform acknowledges refusals)",
        body,
    )
    s3 = stack.session.client("s3")
    bucket = stack.physical("RefusedBucket")
    names = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    check(len(names) == 1 and names[0].startswith("typeform/"), "the stack's bucket keeps it", names)
    head = s3.head_object(Bucket=bucket, Key=names[0])
    said = json.dumps(head.get("Metadata", {})) + names[0]
    check("5553334455" not in said, "no phone in its name or metadata", said)
    status, listed = tool(stack, "tools.refused", "list", "--stack", stack.name)
    check(status == 0 and "rejected_phone" in listed and "+90555*****55" in listed, "make refused lists it", listed)
    check("5553334455" not in listed, "with the phone masked", listed)
    gateway.rejected_phones.clear()
    status, replayed = tool(stack, "tools.refused", "replay", "--stack", stack.name)
    check(
        status == 0 and "owner_created" in replayed and "removed from the store" in replayed,
        "the gateway takes it now: make replay-refused creates the owner through the deployed forwarder",
        replayed,
    )
    check(gateway.owners.count(phone) == 1, f"the gateway has {mask(phone)}'s owner once", gateway.owners)
    check(s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0, "and the bucket is empty")


def every_delivery_queued(stack: Target, gateway: SandboxGateway) -> None:
    """QueueEveryDelivery=true: nothing reserved; each delivery queued and forwarded from the queue, once."""
    functions = stack.session.client("lambda")
    for logical in ("WebhookFunction", "ForwarderFunction"):
        held = functions.get_function_concurrency(FunctionName=stack.physical(logical)).get(
            "ReservedConcurrentExecutions"
        )
        check(held is None, f"{logical} has no reserved concurrency", held)
    api, reader = Api(stack), Reader(stack)
    phone = "+905551112233"
    for attempt in ("a Zapier delivery", "another delivery of the same phone"):
        answer = api.post(senders.request("zapier", "0555 111 22 33"))
        check(answer == (200, {"success": True, "queued": True}), f"{attempt} is answered queued", answer)
        check(until(lambda: reader.depth("RetryQueue") == 0), "and the forwarder takes it from the queue")
    sent = [r.phone for r in gateway.received if r.phone == phone]
    check(sent == [phone], f"the gateway received {mask(phone)} once: no owner lost or doubled", sent)
    check(reader.created_by(phone) == "zapier", "the table records its owner", reader.record(phone))
    handled = [line for line in reader.log_lines("forwarder") if line.get("message") == "queued delivery handled"]
    outcomes_logged = [line.get("outcome") for line in handled]
    check(
        outcomes_logged == ["drained", "phone_existing"], "the forwarder's log: drained, then existing", outcomes_logged
    )
    check(reader.depth("RetryDeadLetterQueue") == 0, "the dead-letter queue is empty")


def relevant_lines(emulator: Emulator, count: int = 40) -> list[str]:
    """The emulator's lines that tell what went wrong: errors, warnings, and its functions' and event sources'."""
    if not emulator.log.exists():
        return []
    words = ("ERROR", "WARNING", "Traceback", "Error", "ESM", "lambda", "cloudformation", "Exception")
    lines = [line for line in emulator.log.read_text(errors="replace").splitlines() if any(w in line for w in words)]
    return lines[-count:]


def run(folder: Path) -> None:
    with emulator(folder) as started, contextlib.ExitStack() as stop:
        os.environ.update(started.environment())  # this process's AWS clients (make lookup's too) call it
        default = Target(STACK, started, dict(PARAMETERS))
        queued = Target(QUEUED_STACK, started, {**PARAMETERS, "QueueEveryDelivery": "true"})
        status, said = preflight_says(default)
        check(
            status == 1 and "QueueEveryDelivery=true" in said,
            f"make preflight, on an account whose quota is {QUOTA}: the default stack does not fit; it names "
            "QueueEveryDelivery=true",
            said,
        )
        status, said = preflight_says(queued, "QueueEveryDelivery=true")
        check(status == 0, "and with QueueEveryDelivery=true it fits", said)
        gateway = SandboxGateway(LOCAL_SECRET["api_key"]).start()
        stop.callback(gateway.stop)
        for target in (default, queued):
            target.given["GatewayBaseUrl"] = gateway.url
        secret = create_secret(default.session)
        build(default, folder)
        deploy(default, folder, secret)
        try:
            print(f"{STACK}: the webhook invokes the forwarder", flush=True)
            through_the_forwarder(default, gateway)
            outage(default, gateway)
            kept_refusal(default, gateway)
            deploy(queued, folder, secret)
            print(f"{QUEUED_STACK}: QueueEveryDelivery=true", flush=True)
            every_delivery_queued(queued, gateway)
        except DeployCheckError:
            for target in (default, queued):
                with contextlib.suppress(Exception):
                    reader = Reader(target)
                    for function in ("webhook", "forwarder"):
                        for line in reader.log_lines(function)[-8:]:
                            print(f"{target.name} {function}: {json.dumps(line)[:3000]}", file=sys.stderr)
            raise


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as work:
        folder = Path(work)
        try:
            for variable in [name for name in os.environ if name.startswith("AWS_")]:
                os.environ.pop(variable)  # nothing of this machine's AWS settings: only the emulator's
            run(folder)
        except (DeployCheckError, subprocess.TimeoutExpired) as failure:
            print(f"\ndeploy-check FAILED: {failure}", file=sys.stderr)
            lines = relevant_lines(Emulator(0, folder / "ministack.log"))
            if lines:
                print("MiniStack's relevant lines:\n  " + "\n  ".join(lines), file=sys.stderr)
            return 1
    print(f"deploy-check passed in {time.monotonic() - started:.0f} s ({len(CHANGES)} changes, docs/deployment.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
