"""Every sender that acknowledges refusals (the form tools, the stores, the presets), over real stand-ins: its
column of the answer table, its credential refused when forged, tampered, stale or missing; no 404 or 410.

The promise: docs/answers.md and docs/senders.md.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from owner_webhook.sources import registry
from owner_webhook.sources.presets import PRESETS
from sandbox import senders
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.local_secrets import GATEWAY_KEY
from sandbox.stack import Sandbox
from tests.integration.conftest import invoke_event

FORM_TOOLS = [name for name, source in registry().items() if source.acknowledges_refusals]
# A token carried beside the body (Jotform's, Paperform's, ...) cannot tell a tampered body; a signature can.
SIGNED = {name for name in FORM_TOOLS if "token" not in str(PRESETS[name]["credential"])}
TIMED = [name for name in FORM_TOOLS if senders.sender(name).TIMED]


def send(request: HttpRequest) -> tuple[int, str, dict[str, str]]:
    answer = invoke_event(http_api_event(request))
    return answer.status, answer.code, answer.headers


@pytest.mark.parametrize("source", FORM_TOOLS)
@pytest.mark.parametrize("written", ["+905551234567", "0555 123 45 67", "905551234567", "(555) 123-45-67"])
def test_success(sandbox: Sandbox, source: str, written: str) -> None:
    assert send(senders.request(source, written))[:2] == (200, "owner_created")
    assert [json.loads(r.body) for r in sandbox.gateway.received] == [{"phone": "+905551234567"}]


def test_webflow_phone_as_a_number(sandbox: Sandbox) -> None:
    assert send(senders.request("webflow", 905551234567))[:2] == (200, "owner_created")
    assert sandbox.gateway.owners == ["+905551234567"]


@pytest.mark.parametrize("source", FORM_TOOLS)
@pytest.mark.parametrize(("written", "code"), [(None, "missing_phone"), ("+90 555", "invalid_phone")])
def test_a_submission_that_cannot_succeed_is_acknowledged(
    sandbox: Sandbox, source: str, written: str | None, code: str
) -> None:
    status, got, _ = send(senders.request(source, written))
    assert (status, got) == (200, code)  # 200 with success false: resending cannot fix it
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", FORM_TOOLS)
def test_a_phone_the_gateway_refuses_is_acknowledged(sandbox: Sandbox, source: str) -> None:
    sandbox.gateway.rejected_phones.add("+905551234567")
    assert send(senders.request(source))[:2] == (200, "rejected_phone")


@pytest.mark.parametrize("source", FORM_TOOLS)
def test_forged_missing_and_tampered_signatures_are_401_and_nothing_is_sent(sandbox: Sandbox, source: str) -> None:
    forged = senders.request(source, secret="not-the-secret")
    good = senders.request(source)
    tampered = HttpRequest(good.method, good.path, good.body.replace(b"0555", b"0556"), good.headers, good.query)
    body, headers = senders.payload(source, "0555 123 45 67", "unsigned")
    missing = HttpRequest("POST", f"/webhooks/{source}", body, headers)  # as the sender sends it with no secret set
    # A token sender does not sign its bodies: only the token authenticates it, so tampering is undetectable.
    for request in (forged, tampered, missing) if source in SIGNED else (forged, missing):
        assert send(request)[:2] == (401, "unauthenticated")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", FORM_TOOLS)
def test_a_source_without_a_secret_is_401(sandbox: Sandbox, source: str) -> None:
    sandbox.aws.put_secret({"api_key": GATEWAY_KEY, "webhook_secrets": {}})
    assert send(senders.request(source))[:2] == (401, "unauthenticated")


@pytest.mark.parametrize("source", FORM_TOOLS)
@pytest.mark.parametrize("fault", [Fault(status=503, retry_after=120), Fault(status=500), Fault(reset=True)])
def test_transient_failures_are_503_with_retry_after(sandbox: Sandbox, source: str, fault: Fault) -> None:
    sandbox.gateway.inject(fault)
    status, code, headers = send(senders.request(source))
    assert status == 503
    assert code in ("upstream_unavailable", "upstream_ambiguous")
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize("source", TIMED)
def test_stale_and_future_timestamps(sandbox: Sandbox, source: str) -> None:
    import time

    from sandbox.senders import sign

    for skew in (-400, 400):
        request = senders.request(source)
        resigned = sign(source, request, senders.sender(source).SECRET, now=time.time() + skew)
        assert send(resigned)[:2] == (401, "unauthenticated")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize("source", [*FORM_TOOLS, "zapier", "generic"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""]
    ),
    signed=st.booleans(),
)
def test_no_body_makes_a_known_route_answer_404_or_410(
    sandbox: Sandbox, source: str, body: bytes, content_type: str, signed: bool
) -> None:
    from sandbox.aws import LOCAL_SECRET
    from sandbox.senders import sign

    request = HttpRequest("POST", f"/webhooks/{source}", body, {"content-type": content_type} if content_type else {})
    if signed:
        request = sign(source, request, LOCAL_SECRET["webhook_secrets"][source])
    status, _, _ = send(request)
    assert status not in (404, 410)
    assert status in (200, 400, 401, 413, 415, 422, 503)
