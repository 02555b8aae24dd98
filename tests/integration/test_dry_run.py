"""`?dry_run=1`: checked like any delivery, answered 200 with what would happen, and nothing forwarded, queued or
remembered.

The promise: docs/answers.md (dry run) and docs/senders.md (each sender's setup starts with it).
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import urllib3

from sandbox import queue, senders
from sandbox.endpoint import LocalEndpoint
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import Answer, invoke_event

PHONE = "0555 123 45 67"


def dry_run(source: str, phone: Any = PHONE, delivery_id: str | None = None, secret: str | None = None) -> Answer:
    """The sender's own request with `dry_run=1` in its URL, signed as the sender signs (HubSpot signs the URL)."""
    body, headers = senders.payload(source, phone, delivery_id or uuid.uuid4().hex)
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers, query="dry_run=1")
    signed = senders.sign(source, unsigned, secret if secret is not None else senders.sender(source).SECRET)
    return invoke_event(http_api_event(signed))


def nothing_happened(sandbox: Sandbox) -> None:
    assert sandbox.gateway.received == []
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 0
    assert sandbox.aws.table_items() == []


@pytest.mark.parametrize("source", senders.SOURCES)
def test_every_sender_gets_what_would_happen_and_nothing_happens(sandbox: Sandbox, source: str) -> None:
    answer = dry_run(source)
    assert answer.status == 200
    assert answer.body == {
        "success": True,
        "dry_run": True,
        "outcome": "owner_created",
        "phone": "+90555*****67",
        "phone_known": False,
    }
    nothing_happened(sandbox)


@pytest.mark.parametrize("source", ["zapier", "typeform", "jotform"])
def test_a_refusal_is_200_for_every_sender(sandbox: Sandbox, source: str) -> None:
    answer = dry_run(source, phone="+90 555")
    assert answer.status == 200
    assert answer.body == {
        "success": False,
        "dry_run": True,
        "outcome": "invalid_phone",
        "phone": None,
        "phone_known": False,
    }
    nothing_happened(sandbox)


@pytest.mark.parametrize("source", ["zapier", "typeform", "jotform", "shopify"])
def test_a_wrong_secret_is_still_401(sandbox: Sandbox, source: str) -> None:
    assert dry_run(source, secret="not-the-secret-" + "x" * 32).status == 401
    nothing_happened(sandbox)


def test_a_known_phone_and_the_same_delivery_again(sandbox: Sandbox) -> None:
    first = invoke_event(http_api_event(senders.request("tally", PHONE, "delivery-1")))
    assert first.code == "owner_created"
    sandbox.gateway.reset()
    other = dry_run("zapier", "+90 555 123 45 67")
    assert (other.body["outcome"], other.body["phone_known"], other.body["success"]) == ("phone_existing", True, True)
    again = dry_run("tally", PHONE, "delivery-1")
    assert (again.body["outcome"], again.body["phone_known"]) == ("duplicate_replayed", True)
    assert sandbox.gateway.received == []


def test_a_dry_run_is_not_remembered_and_does_not_wait_for_the_gateway(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)  # the queue is on, and takes nothing either
    sandbox.gateway.inject(Fault(status=503, retry_after=30))  # the gateway is down: a dry run never asks it
    assert dry_run("jotform").body["outcome"] == "owner_created"
    nothing_happened(sandbox)
    sandbox.gateway.reset()
    assert invoke_event(http_api_event(senders.request("jotform", PHONE))).code == "owner_created"  # forgot it


@pytest.mark.parametrize("value", ["0", "", "no"])
def test_only_1_or_true_make_a_dry_run(sandbox: Sandbox, value: str) -> None:
    request = replace(senders.request("zapier", PHONE), query=f"dry_run={value}")  # zapier's token is a header
    assert invoke_event(http_api_event(request)).code == "owner_created"


def test_the_log_line_says_dry_run_and_what_would_happen(
    sandbox: Sandbox, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    dry_run("typeform")
    (line,) = [line for line in logs() if line["message"] == "webhook answered"]
    assert (line["outcome"], line["dry_run_outcome"], line["phone"]) == ("dry_run", "owner_created", "+90555*****67")
    assert "5551234567" not in str(line)


def test_the_readmes_dry_run_curl_answers_as_the_readme_says(sandbox: Sandbox) -> None:
    """The README's curl, sent as curl would send it (its URL, headers and body), to the function over HTTP."""
    from owner_webhook.handler import lambda_handler

    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL) if "dry_run=1" in b]
    command, expected = block.split("\n# ")
    endpoint = LocalEndpoint(lambda_handler).start()
    try:
        words = shlex.split(command.replace("\\\n", " ").replace("<WebhookBaseUrl>", endpoint.url + "/webhooks/"))
        words = [w.replace("<the token>", senders.sender("zapier").SECRET) for w in words]
        headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
        body = words[words.index("-d") + 1]
        response = urllib3.request("POST", words[words.index("-X") + 2], headers=headers, body=body)
    finally:
        endpoint.stop()
    assert response.status == 200
    assert json.loads(response.data) == json.loads(expected)
    nothing_happened(sandbox)


@pytest.mark.parametrize("failure", ["table", "setting"])
def test_a_dry_run_that_fails_is_never_a_likely_lost_signup(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    """docs/answers.md: a dry run carries no signup, so its 503 counts no LikelyLost (nor fires its alarm),
    even from a sender that never retries; a delivery that fails the same way does."""
    from tests.integration.test_phone_identity import _counted

    def fail() -> None:
        if failure == "table":
            sandbox.aws.fail_next("DynamoDB_20120810.GetItem")
        else:
            monkeypatch.setenv("GATEWAY_BASE_URL", "ftp://gateway.example")  # invalid_setting, before anything

    fail()
    answer = dry_run("jotform")
    assert answer.status == 503
    assert _counted(capsys.readouterr().out, "LikelyLost") == 0
    if failure == "table":
        sandbox.aws.fail_next("DynamoDB_20120810.PutItem")  # the delivery's claim
    assert invoke_event(http_api_event(senders.request("jotform", PHONE))).status == 503
    assert _counted(capsys.readouterr().out, "LikelyLost") == 1
