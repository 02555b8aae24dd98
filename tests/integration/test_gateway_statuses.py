"""Every status the gateway may answer is taken for what it is, by class (docs/answers.md, "The gateway's
answers"): any 2xx is a created owner, never forwarded again, whatever follows its status line; 3xx, 404 and
405 a wrong address, kept and alarmed; any other 4xx but 401, 403, 408 and 429 this phone refused, final; the
rest transient; an interim answer (1xx) is read past to the final one. Each row against the sandbox gateway,
with the queue on and off, for a sender that retries and one that never does, and on the forwarder's SQS path."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event
from tests.integration.test_phone_identity import _counted

Logs = Callable[[], list[dict[str, Any]]]
CREATED, REFUSED, MISDIRECTED, KEY, TRANSIENT = "created", "refused", "misdirected", "key refused", "transient"
# The gateway's answer, and its class: one row per status the table in gateway.py names, and its edges.
ANSWERS = [
    (Fault(status=200), CREATED),
    (Fault(status=201), CREATED),
    (Fault(status=202, body=""), CREATED),
    (Fault(status=204), CREATED),  # no body at all
    (Fault(status=200, body="OK"), CREATED),  # not JSON
    (Fault(status=299, body="{"), CREATED),
    (Fault(status=301, location="https://elsewhere.example/owner"), MISDIRECTED),
    (Fault(status=302, location="/login"), MISDIRECTED),
    (Fault(status=307, location="https://elsewhere.example/owner"), MISDIRECTED),
    (Fault(status=308, location="https://elsewhere.example/owner"), MISDIRECTED),
    (Fault(status=404), MISDIRECTED),
    (Fault(status=405), MISDIRECTED),
    (Fault(status=400), REFUSED),
    (Fault(status=409), REFUSED),
    (Fault(status=410), REFUSED),
    (Fault(status=413, retry_after=1), REFUSED),  # urllib3 would retry a 413 with Retry-After: not here
    (Fault(status=418), REFUSED),
    (Fault(status=422), REFUSED),
    (Fault(status=451), REFUSED),
    (Fault(status=499), REFUSED),
    (Fault(status=401), KEY),
    (Fault(status=403), KEY),
    (Fault(status=408), TRANSIENT),
    (Fault(status=429), TRANSIENT),
    (Fault(status=500), TRANSIENT),
    (Fault(status=502), TRANSIENT),
    (Fault(status=503), TRANSIENT),
    (Fault(status=504), TRANSIENT),
    (Fault(status=599), TRANSIENT),
    (Fault(status=699), TRANSIENT),  # a status no row names: the explicit "anything else"
    # Interim answers (1xx) first: the final answer is the answer.
    (Fault(status=201, interim=(102,)), CREATED),
    (Fault(status=200, interim=(100, 103)), CREATED),
    (Fault(status=400, interim=(102,)), REFUSED),
    (Fault(status=503, interim=(103,)), TRANSIENT),
    # A 2xx status line is the owner created, whatever follows it.
    (Fault(status=201, header_lines=150), CREATED),  # more header lines than http.client reads
    (Fault(status=200, body="not gzip", content_encoding="gzip"), CREATED),  # a body that is not what it says
    (Fault(status=201, short_body=True), CREATED),  # a body cut short by the gateway
]


def _id(fault: Fault) -> str:
    """The row's status and what shapes its answer."""
    shape = [f"{fault.status}"] + [f"{code}-first" for code in fault.interim]
    shape += [repr(fault.body)] if fault.body is not None else []
    shape += [f"{fault.header_lines}-header-lines"] if fault.header_lines else []
    shape += [f"{fault.content_encoding}-encoded"] if fault.content_encoding else []
    shape += ["short-body"] if fault.short_body else []
    return "-".join(shape)


IDS = [_id(fault) for fault, _ in ANSWERS]
# typeform retries a 503 for hours and gets 200 for a refusal; zapier never retries and gets 422.
SENDERS = ["typeform", "zapier"]
_phones = itertools.count(3_000_000)


def _phone() -> str:
    return f"0555 {next(_phones):07d}"


@pytest.fixture(params=[True, False], ids=["queue-on", "queue-off"])
def queue_on(request: pytest.FixtureRequest, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    if request.param:
        monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    yield request.param


def send(source: str, phone: str, delivery_id: str | None = None) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)))


@pytest.mark.parametrize("source", SENDERS)
@pytest.mark.parametrize(("fault", "kind"), ANSWERS, ids=IDS)
def test_each_gateway_status_is_taken_for_what_it_is(
    sandbox: Sandbox,
    queue_on: bool,
    capsys: pytest.CaptureFixture[str],
    logs: Logs,
    source: str,
    fault: Fault,
    kind: str,
) -> None:
    phone = _phone()
    sandbox.gateway.inject(fault)
    request = senders.request(source, phone)
    answer = invoke_event(http_api_event(request))
    assert len(sandbox.gateway.received) == 1  # never tried again within the request
    [line] = [line for line in logs() if line["message"] == "webhook answered"]
    assert line["gateway_status"] == fault.status
    out = capsys.readouterr().out
    queued = queue.depth(sandbox.aws, sandbox.queue_url)
    form_tool = source == "typeform"
    if kind == CREATED:
        assert (answer.status, answer.body) == (200, {"success": True})
        assert send(source, phone).body == {"success": True, "existing": True}  # another delivery of the phone
        assert invoke_event(http_api_event(request)).body == {"success": True}  # the sender's retry: replayed
        assert len(sandbox.gateway.received) == 1 and len(sandbox.gateway.owners) == 1  # never forwarded again
        assert queued == 0 and _counted(out, "AmbiguousForward") == 0
        return
    assert sandbox.gateway.owners == []  # the gateway said it created nothing
    if kind == REFUSED:  # final: as a 400 is answered, stored, never queued
        assert answer.code == "rejected_phone" and answer.body["success"] is False
        assert answer.status == (200 if form_tool else 422)
        assert f"HTTP {fault.status}" in answer.body["error"]["message"]
        assert queued == 0 and "Retry-After" not in answer.headers
        assert invoke_event(http_api_event(request)).body == answer.body  # the sender's retry: its answer again
        assert len(sandbox.gateway.received) == 1
        return
    code = {MISDIRECTED: "upstream_misdirected", KEY: "upstream_auth", TRANSIENT: "upstream_unavailable"}[kind]
    signal = {MISDIRECTED: "GatewayMisdirected", KEY: "GatewayKeyRefused", TRANSIENT: None}[kind]
    if signal is not None:  # the alarm's metric, whatever the queue did with the delivery
        assert _counted(out, signal) == 1
    if queue_on:  # kept: queued, and the forwarder tries it later
        assert (answer.status, answer.body) == (200, {"success": True, "queued": True})
        assert line["queued_because"] == code
        assert queued == 1 and _counted(out, "LikelyLost") == 0
    else:  # kept by the sender: 503 and Retry-After, so that it comes back
        assert (answer.status, answer.code, answer.headers["Retry-After"]) == (503, code, "60")
        assert queued == 0
        assert _counted(out, "LikelyLost") == (0 if form_tool else 1)  # zapier never sends it again
    retried = invoke_event(http_api_event(request))  # the sender's retry (or the queue's), once the gateway is well
    assert retried.status == 200 and len(sandbox.gateway.owners) == 1


FORWARDER_ANSWERS = [
    (Fault(status=201), CREATED, "drained"),
    (Fault(status=204), CREATED, "drained"),
    (Fault(status=409), REFUSED, "rejected_phone"),
    (Fault(status=422), REFUSED, "rejected_phone"),
    (Fault(status=404), MISDIRECTED, "retry_later"),
    (Fault(status=301, location="/elsewhere"), MISDIRECTED, "retry_later"),
    (Fault(status=403), KEY, "retry_later"),
    (Fault(status=408), TRANSIENT, "retry_later"),
    (Fault(status=699), TRANSIENT, "retry_later"),
    (Fault(status=201, interim=(102,)), CREATED, "drained"),
    (Fault(status=422, interim=(103,)), REFUSED, "rejected_phone"),
    (Fault(status=201, header_lines=150), CREATED, "drained"),
    (Fault(status=200, body="not gzip", content_encoding="gzip"), CREATED, "drained"),
]


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


@pytest.mark.parametrize(("fault", "kind", "outcome"), FORWARDER_ANSWERS, ids=[_id(f) for f, _, _ in FORWARDER_ANSWERS])
def test_the_forwarders_sqs_path_takes_each_class_for_what_it_is(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logs: Logs,
    fault: Fault,
    kind: str,
    outcome: str,
) -> None:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    phone = _phone()
    sandbox.gateway.inject(Fault(status=503))
    assert send("jotform", phone).body == {"success": True, "queued": True}
    sandbox.gateway.inject(fault)
    capsys.readouterr()
    queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder)
    out = capsys.readouterr().out
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert (line["outcome"], line["gateway_status"]) == (outcome, fault.status)
    left = queue.depth(sandbox.aws, sandbox.queue_url)
    if kind == CREATED:  # never forwarded again: the message is gone, the phone known
        assert left == 0 and len(sandbox.gateway.owners) == 1
        assert send("jotform", phone).body == {"success": True, "existing": True}
    elif kind == REFUSED:  # final: dropped, not retried
        assert left == 0 and sandbox.gateway.owners == []
    else:  # kept for another attempt
        assert left == 1 and sandbox.gateway.owners == []
        assert line["failure"] == {MISDIRECTED: "upstream_misdirected", KEY: "upstream_auth"}.get(
            kind, "upstream_unavailable"
        )
    if kind == MISDIRECTED:
        assert _counted(out, "GatewayMisdirected") == 1
    assert len(sandbox.gateway.received) == 2  # the outage, this attempt, and no other


def test_an_interim_answer_is_never_the_answer_nor_is_its_final_answer_left_for_the_next_phone(
    sandbox: Sandbox, logs: Logs
) -> None:
    # The gateway says 102 Processing, and its 201 a second later; the next phone, which the gateway refuses,
    # is sent on the same kept-alive connection. Taken for the answer, the 102 would leave the 201 for the
    # next request to read as its own: a refused phone answered and recorded as created.
    sandbox.gateway.rejected_phones.add("+905552220002")
    sandbox.gateway.inject(Fault(status=201, interim=(102,), after_interim=1.0))
    first = send("zapier", "0555 111 00 01")
    second = send("zapier", "0555 222 00 02")
    assert (second.status, second.code) == (422, "rejected_phone")
    assert (first.status, first.body) == (200, {"success": True})
    assert [line["gateway_status"] for line in logs() if line["message"] == "webhook answered"] == [201, 400]
    assert sandbox.gateway.owners == ["+905551110001"]
    assert send("zapier", "0555 222 00 02").code == "rejected_phone"  # never known as created
    assert send("zapier", "0555 111 00 01").body == {"success": True, "existing": True}
