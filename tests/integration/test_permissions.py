"""Each function's IAM policy, as SAM expands it from template.yaml, allows every AWS call its code makes.

The calls are the ones the moto server answers while each handler runs its main paths (a first delivery,
a repeat, the gateway down, an ambiguous forward, a rotated key, a refusal kept; the forwarder retrying,
then draining, a phone it is refused kept): what a first `sam deploy` would otherwise show as AccessDenied in
production. The KMS side of a kept refusal (S3 calls KMS for the function) is read from the policies
themselves: the functions may only encrypt, through S3 (docs/security.md, "Kept refusals").
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from sandbox import queue, senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import invoke_event

# X-Amz-Target prefix → IAM service prefix
SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "secretsmanager": "secretsmanager", "s3": "s3"}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def policy_statements() -> dict[str, list[dict[str, Any]]]:
    """Each function's Allow statements, from the roles the SAM transform generates (offline), with the
    template's default parameters (under which every condition of a policy holds: refusals are kept)."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"  # what sam deploy puts there
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "eu-central-1"))
        arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:owner-webhook/dev-AbCdEf"
        translated = transform(template, {"ApiKeySecretArn": arn}, _NoManagedPolicies())
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and name.endswith("FunctionRole"):
            policies = [p["Fn::If"][1] if "Fn::If" in p else p for p in resource["Properties"].get("Policies", [])]
            statements = [s for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
            found[name.removesuffix("Role")] = statements
    return found


def policy_actions() -> dict[str, set[str]]:
    """Each function's allowed actions."""
    return {
        name: {a for s in statements for a in _list(s["Action"])} for name, statements in policy_statements().items()
    }


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def calls_during(sandbox: Sandbox, run: Callable[[], Any]) -> set[str]:
    """The IAM actions of the AWS calls made while `run` runs."""
    before = Counter(sandbox.aws.calls)
    run()
    after = Counter(sandbox.aws.calls)
    targets = {target for target in after if after[target] > before[target]}
    return {f"{SERVICES[target.split('.')[0]]}:{target.split('.')[1]}" for target in targets}


def allowed(action: str, policy: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in policy)


def test_each_function_may_make_every_call_its_code_makes(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    policies = policy_actions()
    assert set(policies) == {"WebhookFunction", "ForwarderFunction"}

    def deliver(phone: str, delivery_id: str) -> None:
        invoke_event(http_api_event(senders.request("zapier", phone, delivery_id=delivery_id)))

    def webhook_paths() -> None:
        deliver("0555 123 45 67", "first")
        deliver("0555 123 45 67", "first")  # the repeat
        sandbox.gateway.inject(Fault(status=503, retry_after=30))
        deliver("0555 123 45 68", "queued")  # to the retry queue
        sandbox.gateway.inject(Fault(create_first=True))
        deliver("0555 123 45 69", "ambiguous")
        invoke_event(http_api_event(senders.request("zapier", None, delivery_id="no-phone")))  # a refusal, kept

    webhook = calls_during(sandbox, webhook_paths)
    sandbox.gateway.accepted_keys = {"rotated-key"}  # the gateway refuses the cached key: a fresh read
    sandbox.aws.put_secret({**LOCAL_SECRET, "api_key": "rotated-key"})
    webhook |= calls_during(sandbox, lambda: deliver("0555 123 45 70", "rotated"))
    assert {"sqs:SendMessage", "dynamodb:PutItem", "secretsmanager:GetSecretValue", "s3:PutObject"} <= webhook

    forwarder_calls: set[str] = set()

    def forwarder(event: dict[str, Any], context: Any) -> Any:
        from owner_webhook.forwarder import lambda_handler

        result: Any = None

        def handle() -> None:
            nonlocal result
            result = lambda_handler(event, context)

        forwarder_calls.update(calls_during(sandbox, handle))
        return result

    from owner_webhook import wiring

    wiring.parts.cache_clear()  # the forwarder is a function of its own: it starts cold
    sandbox.gateway.inject(Fault(status=500))
    _messages, failed = queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder)
    assert failed >= 1  # retried later, with a delay
    sandbox.gateway.rejected_phones.add("+905551234568")  # the queued phone: refused, and kept
    queue.drain(sandbox.aws, sandbox.queue_url, forwarder)
    assert {"sqs:ChangeMessageVisibility", "secretsmanager:GetSecretValue", "dynamodb:PutItem"} <= forwarder_calls
    assert "s3:PutObject" in forwarder_calls
    # Lambda's SQS event source polls with the forwarder's role too.
    forwarder_calls |= {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

    for function, calls in (("WebhookFunction", webhook), ("ForwarderFunction", forwarder_calls)):
        missing = sorted(action for action in calls if not allowed(action, policies[function]))
        assert not missing, f"{function}'s policy lacks {missing}"


def test_the_functions_may_write_kept_refusals_encrypted_through_s3_and_read_none() -> None:
    """Writing takes s3:PutObject on the bucket's objects and kms:GenerateDataKey on its key, only through S3;
    reading, listing or deleting a kept refusal, or decrypting one, is for whoever the operator grants."""
    for function, statements in policy_statements().items():
        actions = {a for s in statements for a in _list(s["Action"])}
        assert not {a for a in actions if a.startswith(("s3:", "kms:"))} - {"s3:PutObject", "kms:GenerateDataKey"}
        [put] = [s for s in statements if "s3:PutObject" in _list(s["Action"])]
        assert put["Resource"] == {"Fn::Sub": "${RefusedBucket.Arn}/*"}, function
        [encrypt] = [s for s in statements if "kms:GenerateDataKey" in _list(s["Action"])]
        assert encrypt["Resource"] == {"Fn::GetAtt": ["RefusedKey", "Arn"]}, function
        assert encrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
        }
