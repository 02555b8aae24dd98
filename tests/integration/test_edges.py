"""The promises at their edges (docs/guarantees.md, "Every call fits the time", "What can still be lost",
"Possible duplicates, and every one is counted"): a trickling gateway, a forward that leaves no time for
the queue, an invocation that dies mid-forward, a fractional Retry-After, what is likely lost, a key refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3

from owner_webhook import outcomes
from owner_webhook.deduplication import Claim
from owner_webhook.outcomes import Result
from sandbox import queue, senders
from sandbox.aws import LOCAL_PHONE_KEY, LOCAL_SECRET
from sandbox.events import LocalContext, http_api_event
from sandbox.gateway import Fault
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event
from tests.integration.test_phone_identity import _counted

Logs = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def queued(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    yield sandbox


def send(source: str, phone: str = "0555 123 45 67", delivery_id: str | None = None, timeout: float = 10.0) -> Answer:
    return invoke_event(http_api_event(senders.request(source, phone, delivery_id=delivery_id)), timeout=timeout)


def forwarder(event: dict[str, Any], context: Any) -> Any:
    from owner_webhook.forwarder import lambda_handler

    return lambda_handler(event, context)


@pytest.mark.parametrize(
    ("with_queue", "trickle_in"),
    [(False, "status"), (True, "status"), (False, "headers")],
    ids=["queue off", "queue on", "after its status line"],
)
def test_a_gateway_that_trickles_its_answer_is_cut_before_the_function_times_out(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, with_queue: bool, trickle_in: str
) -> None:
    # The attack: the answer a piece every 2 s for 14 s (a space of its status line, or a header line after
    # "HTTP/1.1 200 OK"); each read is quick.
    if with_queue:
        monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    sandbox.gateway.inject(Fault(trickle=2.0, trickle_for=14.0, trickle_in=trickle_in))
    context = LocalContext(timeout_seconds=10)
    from owner_webhook.handler import lambda_handler

    started = time.monotonic()
    result = lambda_handler(http_api_event(senders.request("jotform", delivery_id="trickle")), context)
    assert context.get_remaining_time_in_millis() > 0, f"answered after {time.monotonic() - started:.1f} s"
    body = json.loads(result["body"])
    if trickle_in == "headers":
        assert body == {"success": True}  # its status line said 200: the owner exists, whatever was still to come
    elif with_queue:
        assert body == {"success": True, "queued": True}
    else:
        assert body["error"]["code"] == "upstream_ambiguous"  # no status line: the owner may exist


def _claimed_elsewhere(delivery_id: str, seconds_left: float) -> Claim:
    """The phone claimed by another invocation, which has `seconds_left`."""
    from owner_webhook import wiring
    from owner_webhook.budget import RECORD, Deadline

    deadline = Deadline.start(seconds_left, 8.0, RECORD)
    claim = wiring.parts().service.deduplication.claim(
        "zapier", delivery_id, "+905551234567", deadline, (LOCAL_PHONE_KEY.encode(),)
    )
    assert isinstance(claim, Claim)
    return claim


def test_an_invocation_that_died_mid_forward_leaves_a_trace_and_the_next_owner_is_counted(
    sandbox: Sandbox, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    # An invocation with 1.3 s left claims the phone, its forward creates the owner, and it dies unanswered.
    _claimed_elsewhere("dead", 1.3)
    urllib3.request(
        "POST",
        f"{sandbox.gateway.url}/owner",
        json={"phone": "+905551234567"},
        headers={"Authorization": f"Bearer {LOCAL_SECRET['api_key']}"},
    )
    assert send("typeform", delivery_id="meanwhile").code == "in_progress"  # the claim still runs
    time.sleep(1.6)  # the dead invocation's time is over
    capsys.readouterr()
    answer = send("tally", delivery_id="after")
    assert answer.body == {"success": True}
    assert sandbox.gateway.owners == ["+905551234567", "+905551234567"]
    assert logs()[-1]["after_lapsed_claim"] is True
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 1  # the second owner is counted


@pytest.mark.parametrize(("source", "queued_answer"), [("jotform", True), ("zapier", True), ("typeform", False)])
def test_a_phone_being_created_is_queued_for_a_sender_that_never_retries(
    queued: Sandbox, logs: Logs, source: str, queued_answer: bool
) -> None:
    from owner_webhook import wiring

    running = _claimed_elsewhere("first", 30)
    answer = send(source, delivery_id="second")
    if not queued_answer:
        assert (answer.status, answer.code) == (409, "in_progress")  # Typeform comes back by itself
        return
    assert answer.body == {"success": True, "queued": True}
    # The first delivery's owner is created; the forwarder then finds it.
    assert wiring.parts().service.deduplication.record(running, Result(outcomes.OWNER_CREATED))
    queue.drain(queued.aws, queued.queue_url, forwarder)
    assert [line["outcome"] for line in logs() if line["message"] == "queued delivery handled"] == ["phone_existing"]


# 17.2: the queue's time is kept from the start, whatever the settings and the services' speed.
@pytest.mark.parametrize(
    ("environment", "slow"),
    [
        ({"GATEWAY_READ_TIMEOUT": "8"}, None),  # the read timeout's documented maximum, clipped to the forward
        ({}, ("secretsmanager.GetSecretValue", 0.9)),  # a slow Secrets Manager on a cold start
        ({}, ("", 0.5)),  # every AWS call slow
    ],
    ids=["read timeout 8 s", "Secrets Manager 0.9 s cold", "AWS calls 0.5 s"],
)
def test_a_read_timeout_with_the_queue_on_is_queued_whatever_the_settings(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], slow: tuple[str, float] | None
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if slow:
        queued.aws.slow_down(slow[1], slow[0])
    queued.gateway.inject(Fault(delay=12))
    context = LocalContext(timeout_seconds=10)
    from owner_webhook.handler import lambda_handler

    result = lambda_handler(http_api_event(senders.request("jotform", delivery_id="slow-everything")), context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the function's timeout"
    assert json.loads(result["body"]) == {"success": True, "queued": True}
    assert queue.depth(queued.aws, queued.queue_url) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1.5", "2"), ("garbage", "60"), ("-3", "60"), ("Wed, 21 Oct 2015 07:28:00 GMT", "1"), (None, "30")],
    ids=["fraction", "garbage", "negative", "a date passed", "a date in 30 s"],
)
@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_503_is_unavailable_whatever_its_retry_after_says(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], status: int, header: str | None, expected: str
) -> None:
    import email.utils

    text = header if header is not None else email.utils.formatdate(time.time() + 30, usegmt=True)
    sandbox.gateway.inject(*[Fault(status=status, retry_after_text=text)] * 2)
    answer = send("zapier")
    assert (answer.status, answer.code) == (503, "upstream_unavailable")
    assert answer.headers["Retry-After"].isdigit() and 1 <= int(answer.headers["Retry-After"]) <= 3600
    assert abs(int(answer.headers["Retry-After"]) - int(expected)) <= 1
    assert _counted(capsys.readouterr().out, "AmbiguousForward") == 0  # no possible duplicate: nothing was created


@pytest.mark.parametrize(
    ("source", "lost"), [("jotform", 1), ("zapier", 1), ("typeform", 0), ("tally", 0), ("webflow", 0), ("generic", 0)]
)
def test_a_5xx_to_a_sender_that_never_retries_is_counted_as_likely_lost(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], source: str, lost: int
) -> None:
    sandbox.gateway.inject(Fault(status=500))
    assert send(source).status == 503
    assert _counted(capsys.readouterr().out, "LikelyLost") == lost


@pytest.mark.parametrize(
    "break_it",
    ["queue down", "table down", "secret store down", "a missing setting"],
)
def test_what_the_queue_cannot_save_is_counted(
    queued: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    closed_port: int,
    break_it: str,
) -> None:
    queued.gateway.inject(Fault(status=500))
    if break_it == "queue down":
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{closed_port}")
    elif break_it == "table down":
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed_port}")
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{closed_port}")
    elif break_it == "secret store down":
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{closed_port}")
    else:
        monkeypatch.delenv("API_KEY_SECRET_ID")
    assert send("jotform").status == 503
    assert _counted(capsys.readouterr().out, "LikelyLost") == 1


@pytest.mark.parametrize("with_queue", [False, True], ids=["answered 503", "queued"])
def test_a_key_the_gateway_refuses_even_fresh_is_counted_whatever_the_queue_does(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], with_queue: bool
) -> None:
    if with_queue:
        monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    sandbox.gateway.accepted_keys = {"someone-elses-key"}
    answer = send("zapier")
    assert answer.code == ("queued" if with_queue else "upstream_auth")
    assert _counted(capsys.readouterr().out, "GatewayKeyRefused") == 1


def test_no_time_left_is_its_own_outcome(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    answer = send("typeform", timeout=1.0)  # too short for a claim and what must follow it
    assert (answer.status, answer.code) == (503, "out_of_time")
    assert "Retry-After" in answer.headers
    assert _counted(capsys.readouterr().out, "OutOfTime") == 1
    assert sandbox.gateway.received == []


def test_a_bug_in_the_forwarder_is_counted_as_one_and_the_message_retried(
    queued: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs, capsys: pytest.CaptureFixture[str]
) -> None:
    from owner_webhook.delivery import DeliveryService

    queued.gateway.inject(Fault(status=503, retry_after=30))
    assert send("jotform", delivery_id="forwarder-bug").code == "queued"

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug while forwarding +905551234567")

    monkeypatch.setattr(DeliveryService, "retry", broken)
    capsys.readouterr()
    assert queue.poll_once(queued.aws, queued.queue_url, forwarder) == (1, 1)  # handled, and retried
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert (line["outcome"], line["error_type"]) == ("internal_error", "RuntimeError")
    assert "905551234567" not in json.dumps(line)
    out = capsys.readouterr().out
    assert (_counted(out, "InternalError"), _counted(out, "RetryLater")) == (1, 0)
