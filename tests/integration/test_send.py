"""`make send` signs a payload as each route's sender signs it, from its recipe, and the function accepts it; a
tampered one (another body under an HMAC, another token, a stale timestamp) is refused. `make check-recipe` says
what the function's own code reads from a payload, and the answer it tells is the one the function gives.

The promise: docs/senders.md ("Wire a sender locally") and docs/local.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from owner_webhook.sources.checks import Hmac, Token
from sandbox import local_secrets, senders, signer
from sandbox.aws import LOCAL_SECRET, SECRETS
from sandbox.endpoint import LocalEndpoint
from sandbox.events import HttpRequest
from sandbox.senders import _recipe
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import deliver
from tests.integration.test_event_filter import CAL_COM  # the docs' Cal.com recipe
from tools import check_recipe, payloads, send

ROUTES = senders.SOURCES
SAMPLE = "+905551234567"  # the samples' phone, as the gateway receives it


def _secret(name: str) -> str:
    return str(LOCAL_SECRET["webhook_secrets"][name])


def _check(name: str) -> Hmac | Token:
    return signer.credential_for(_recipe.parsed(name), _secret(name)).check


@pytest.mark.parametrize("name", ROUTES)
def test_a_request_make_send_signs_is_accepted_and_creates_the_owner(sandbox: Sandbox, name: str) -> None:
    answer = deliver(send.prepared(name, secret=_secret(name)))
    assert (answer.status, answer.code) == (200, "owner_created")
    assert sandbox.gateway.owners == [SAMPLE]


@pytest.mark.parametrize("name", ROUTES)
def test_a_tampered_request_is_refused(sandbox: Sandbox, name: str) -> None:
    signed = send.prepared(name, secret=_secret(name))
    if isinstance(_check(name), Hmac):
        forged = [replace(signed, body=signed.body.replace(b"555", b"556", 1))]  # the body: the HMAC no longer fits
    else:
        forged = [send.prepared(name, secret=_secret(name) + "-guessed")]  # a token is the whole credential
    check = _check(name)
    if isinstance(check, Hmac) and check.timestamp is not None:  # replayed an hour later
        forged.append(send.prepared(name, secret=_secret(name), now=time.time() - 3600))
    for request in forged:
        answer = deliver(request)
        assert (answer.status, answer.code) == (401, "unauthenticated"), name
    assert sandbox.gateway.received == []


def test_generic_with_a_standard_webhooks_secret(sandbox: Sandbox) -> None:
    sandbox.aws.put_secret(SECRETS["standard-webhooks"])
    signed = send.prepared("generic", secret=local_secrets.STANDARD_WEBHOOKS)
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(signed.headers)
    assert deliver(signed).code == "owner_created"
    assert deliver(replace(signed, headers={**signed.headers, "webhook-id": "msg_other"})).code == "unauthenticated"


@pytest.fixture
def cal_com(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """docs/senders.md's Cal.com recipe, as a recipe of your own, with its local secret."""
    from owner_webhook import sources

    (tmp_path / "cal-com.json").write_text(json.dumps(CAL_COM))
    monkeypatch.setattr(sources, "RECIPES", tmp_path)
    secrets = {**LOCAL_SECRET["webhook_secrets"], "cal-com": local_secrets.webhook_secret("cal-com")}
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": secrets})
    yield tmp_path


def test_a_recipe_of_your_own_with_a_sample_built_from_it_or_your_payload(sandbox: Sandbox, cal_com: Path) -> None:
    secret = local_secrets.webhook_secret("cal-com")
    assert deliver(send.prepared("cal-com", secret=secret)).code == "owner_created"  # the sample: BOOKING_CREATED
    booking = {"triggerEvent": "BOOKING_CANCELLED", "payload": {"uid": "b-2", "attendees": [{"phoneNumber": "1"}]}}
    (cal_com / "booking.json").write_bytes(json.dumps(booking).encode())
    cancelled = send.prepared("cal-com", body_file=str(cal_com / "booking.json"), secret=secret)
    assert cancelled.headers["content-type"] == "application/json"
    assert deliver(cancelled).body == {"success": True, "ignored": True}
    assert deliver(replace(cancelled, body=cancelled.body + b" ")).code == "unauthenticated"
    assert sandbox.gateway.owners == [SAMPLE]


def test_a_recipe_whose_sample_cannot_be_built_asks_for_a_body(cal_com: Path) -> None:
    (cal_com / "odd.json").write_text(json.dumps({**CAL_COM, "body": ["multipart"], "events": None}))
    with pytest.raises(payloads.ToolError, match="BODY="):
        send.prepared("odd", secret="s")


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("phone", [SAMPLE, None, "0555 123"])
def test_check_recipe_tells_the_answer_the_function_gives(sandbox: Sandbox, name: str, phone: str | None) -> None:
    """It runs the function's own reading: on each sender's sample (with its phone, without one, or an invalid
    one), the answer it tells is the function's."""
    body, headers = senders.payload(name, phone, f"{name}-check")
    source = payloads.recipe_source(name, payloads.recipes_folder(None))
    _, told = check_recipe.report(source, body, headers, "TR")
    request = senders.sign(name, HttpRequest("POST", f"/webhooks/{name}", body, headers), _secret(name))
    answer = deliver(request)
    assert (answer.status, answer.body) == (told.status, told.body), name


def _make(*values: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    return subprocess.run(
        [make, "--no-print-directory", *values],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def endpoint(sandbox: Sandbox) -> Iterator[str]:
    from owner_webhook.handler import lambda_handler

    running = LocalEndpoint(lambda_handler).start()
    yield f"{running.url}/webhooks/"
    running.stop()


def test_make_send_prints_the_answer_and_never_the_secret(sandbox: Sandbox, endpoint: str) -> None:
    done = _make("send", "SOURCE=jotform", f"URL={endpoint}", "DRY_RUN=1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"POST {endpoint}jotform?dry_run=1&token=<secret>"
    assert json.loads(done.stdout.splitlines()[-1].split(" ", 1)[1])["outcome"] == "owner_created"
    hmac_sent = _make("send", "SOURCE=shopify", f"URL={endpoint}")
    assert hmac_sent.returncode == 0 and hmac_sent.stdout.splitlines()[-1] == '200 {"success":true}'
    assert "x-shopify-hmac-sha256: <secret>" in hmac_sent.stdout
    for shown in (done, hmac_sent):
        assert _secret("jotform") not in shown.stdout + shown.stderr
        assert _secret("shopify") not in shown.stdout + shown.stderr
    refused = _make("send", "SOURCE=shopify", f"URL={endpoint}", env={"SECRET": "not-the-secret"})
    assert refused.returncode != 0 and refused.stdout.splitlines()[-1].startswith("401 ")  # the tool's 1: make's 2
    assert "not-the-secret" not in refused.stdout + refused.stderr
    assert sandbox.gateway.owners == [SAMPLE]


def test_make_send_to_a_stack_asks_for_its_secret_when_none_is_given() -> None:
    done = _make("send", "SOURCE=shopify", "URL=https://abc123.execute-api.eu-central-1.amazonaws.com/webhooks/")
    assert done.returncode != 0
    assert "give SECRET (webhook_secrets.shopify of the stack)" in done.stderr


@pytest.mark.parametrize("secret", ["s3cr3t-VALUE-do-not-print\r", "s3cr3t-VALUE\ndo-not-print"])
@pytest.mark.parametrize("name", ["zapier", "fillout"])  # a Bearer token, a token header
def test_a_secret_no_header_can_carry_is_refused_without_showing_it(endpoint: str, name: str, secret: str) -> None:
    """SECRET=$(cat file) keeps a CRLF file's carriage return: said, never printed (not even in a traceback)."""
    done = _make("send", f"SOURCE={name}", f"URL={endpoint}", env={"SECRET": secret})
    assert done.returncode != 0 and "control character" in done.stderr
    assert "s3cr3t-VALUE" not in done.stdout + done.stderr and "Traceback" not in done.stderr
