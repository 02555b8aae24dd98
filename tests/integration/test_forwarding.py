"""The forward to the gateway: retried only when safe, within its budget, across key rotations.

The promise: docs/guarantees.md, "Retries inside one request" and "Key rotation".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from owner_webhook import wiring
from sandbox import senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import http_api_event
from sandbox.gateway import Fault, SandboxGateway
from sandbox.stack import Sandbox
from tests.integration.conftest import Answer, invoke_event

Logs = Callable[[], list[dict[str, Any]]]


def send(source: str = "zapier", phone: str = "0555 123 45 67", timeout: float = 10.0) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = invoke_event(http_api_event(senders.request(source, phone)), timeout=timeout)
    return answer, time.monotonic() - started


def test_a_429_whose_retry_after_fits_the_budget_is_retried_in_the_request(sandbox: Sandbox, logs: Logs) -> None:
    sandbox.gateway.inject(Fault(status=429, retry_after=1))
    answer, took = send()
    assert answer.status == 200
    assert [r.status for r in sandbox.gateway.received] == [429, 200]
    assert 1.0 <= took < 3
    assert logs()[0]["gateway_attempts"] == 2


def test_a_503_whose_retry_after_does_not_fit_is_answered_at_once(sandbox: Sandbox) -> None:
    sandbox.gateway.inject(Fault(status=503, retry_after=30))
    answer, took = send()
    assert (answer.status, answer.headers["Retry-After"]) == (503, "30")
    assert took < 1
    assert len(sandbox.gateway.received) == 1


def test_a_5xx_without_retry_after_is_not_retried(sandbox: Sandbox) -> None:
    sandbox.gateway.inject(Fault(status=500))
    assert send()[0].status == 503
    assert len(sandbox.gateway.received) == 1


def test_a_redirect_is_not_followed_so_the_phone_is_posted_once(sandbox: Sandbox) -> None:
    sandbox.gateway.inject(Fault(status=307, location="/owner"))  # 307 keeps the method: a second POST
    assert send()[0].status == 503
    assert [(r.path, r.status) for r in sandbox.gateway.received] == [("/owner", 307)]
    assert sandbox.gateway.owners == []


def test_every_attempt_is_counted_also_when_the_last_got_no_answer(
    sandbox: Sandbox, closed_port: int, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    """docs/answers.md, "The gateway's answers": `gateway_attempts` is every attempt, the last included."""
    sandbox.gateway.inject(Fault(status=503, retry_after=1), Fault(reset=True))  # a retry, then no answer
    assert send()[0].code == "upstream_ambiguous"
    assert len(sandbox.gateway.received) == 2
    monkeypatch.setenv("GATEWAY_BASE_URL", f"http://127.0.0.1:{closed_port}")  # refused, tried three times
    wiring.parts.cache_clear()  # a cold function that reads the new address
    assert send(phone="0555 123 45 68")[0].code == "upstream_unavailable"
    first, second = [line["gateway_attempts"] for line in logs()]
    assert (first, second) == (2, 3)  # urllib3's retries: one after the 503, two after refused connections


@pytest.fixture
def late_gateway(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[SandboxGateway]]]:
    """Call it to start a gateway on a refusing port 50 ms later: the first connections are refused."""
    monkeypatch.setenv("GATEWAY_BASE_URL", f"http://127.0.0.1:{closed_port}")
    started: list[SandboxGateway] = []
    threads: list[threading.Thread] = []

    def start_soon() -> list[SandboxGateway]:
        def start() -> None:
            time.sleep(0.05)
            started.append(SandboxGateway(LOCAL_SECRET["api_key"], port=closed_port).start())

        threads.append(threading.Thread(target=start))
        threads[0].start()
        return started

    yield start_soon
    for thread in threads:
        thread.join()
    for gateway in started:
        gateway.stop()


def test_a_refused_connection_is_retried_because_nothing_was_sent(
    sandbox: Sandbox, late_gateway: Callable[[], list[SandboxGateway]], logs: Logs
) -> None:
    # Warm (the secret and the phone key read, the table's client built) by a dry run, which ends before the
    # gateway, so that the next request reaches the port at once, before it listens.
    dry_run = replace(senders.request("zapier", "0555 123 45 67"), query="dry_run=1")
    assert invoke_event(http_api_event(dry_run)).body["dry_run"] is True
    started = late_gateway()
    answer, _ = send()
    assert answer.status == 200
    assert started[0].owners == ["+905551234567"]
    assert logs()[-1]["gateway_attempts"] >= 2  # refused first, then retried by urllib3


def test_a_slow_gateway_is_answered_503_within_the_budget(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_READ_TIMEOUT", "1")  # 5 s as deployed (test_settings), 1 s here: the same path
    sandbox.gateway.inject(Fault(delay=3))
    answer, took = send()
    assert (answer.status, answer.code) == (503, "upstream_ambiguous")
    assert took < 8  # the forward budget; Tally gives up at 10 s
    assert took >= 1  # the read timeout: a slow but working gateway gets its chance


# With 4 s left, the forward must end 2.2 s in: 1.5 s (one AWS call at its worst) to store the answer
# and 0.3 s to reply come after it.
@pytest.mark.parametrize(("setting", "lambda_timeout", "limit"), [("2", 10.0, 2.0), ("8", 4.0, 2.2)])
def test_the_budget_is_a_setting_and_never_outlasts_the_lambda(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, setting: str, lambda_timeout: float, limit: float
) -> None:
    monkeypatch.setenv("FORWARD_BUDGET_SECONDS", setting)
    sandbox.gateway.inject(Fault(delay=12))
    answer, took = send(timeout=lambda_timeout)
    assert answer.code == "upstream_ambiguous"
    assert took < limit + 0.3


def test_key_rotation_mid_stream_fails_no_delivery(sandbox: Sandbox) -> None:
    statuses = []
    for i in range(30):
        if i and i % 10 == 0:  # rotate: the new key in the secret, and the gateway accepts only it
            key = f"rotated-key-{i}"
            sandbox.aws.put_secret({**LOCAL_SECRET, "api_key": key})
            sandbox.gateway.accepted_keys = {key}
        source = senders.SOURCES[i % len(senders.SOURCES)]
        statuses.append(send(source, f"0555 123 45 {i:02d}")[0].status)
    assert statuses == [200] * 30
    assert len(sandbox.gateway.owners) == 30
    assert [r.status for r in sandbox.gateway.received].count(401) == 2  # one per rotation, then fetched fresh


def test_faults_can_be_queued_over_http_for_make_serve(sandbox: Sandbox) -> None:
    import urllib3

    http = urllib3.PoolManager()
    queued = http.request("POST", f"{sandbox.gateway.url}/sandbox/faults", json=[{"status": 503, "retry_after": 30}])
    assert queued.status == 200
    assert send()[0].status == 503
    assert send("zapier", "05551234568")[0].status == 200
    assert http.request("GET", f"{sandbox.gateway.url}/sandbox/owners").json() == {"owners": ["+905551234568"]}
    assert http.request("POST", f"{sandbox.gateway.url}/sandbox/faults", body=b"{").status == 400
