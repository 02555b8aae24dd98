"""One owner per delivery (docs/guarantees.md, "One owner per phone"): replays, races, transient failures,
a failing store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3

from sandbox import senders
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.local_secrets import webhook_secret
from sandbox.senders import is_timed, sign
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import Answer, invoke_event

Logs = Callable[[], list[dict[str, Any]]]


def send(request: HttpRequest) -> Answer:
    return invoke_event(http_api_event(request))


def again(source: str, request: HttpRequest) -> HttpRequest:
    """The sender's retry of the same delivery: the same body, signed again where a timestamp is signed."""
    if not is_timed(source, request):
        return request
    from sandbox.aws import LOCAL_SECRET

    return sign(source, request, LOCAL_SECRET["webhook_secrets"][source], now=time.time() + 1)


@pytest.mark.parametrize("source", senders.SOURCES)
def test_a_redelivery_creates_no_second_owner_and_replays_the_first_answer(
    sandbox: Sandbox, logs: Logs, source: str
) -> None:
    first_request = senders.request(source, "0555 123 45 67", delivery_id=f"{source}-dup-1")
    first = send(first_request)
    second = send(again(source, first_request))
    assert (first.status, first.body) == (200, {"success": True})
    assert (second.status, second.body) == (first.status, first.body)
    assert sandbox.gateway.owners == ["+905551234567"]
    assert [line["outcome"] for line in logs()] == ["owner_created", "duplicate_replayed"]
    assert logs()[1]["replayed_outcome"] == "owner_created"


@pytest.mark.parametrize("source", ["zapier", "typeform"])
def test_a_refusal_is_replayed_without_calling_the_gateway(sandbox: Sandbox, source: str) -> None:
    sandbox.gateway.rejected_phones.add("+905551234567")
    request = senders.request(source, delivery_id="refused-1")
    first = send(request)
    assert first.code == "rejected_phone"
    sandbox.gateway.rejected_phones.clear()  # even if the gateway would now accept it
    second = send(again(source, request))
    assert (second.status, second.body) == (first.status, first.body)
    assert len(sandbox.gateway.received) == 1


@pytest.mark.parametrize("source", senders.SOURCES)
@pytest.mark.parametrize("fault", [Fault(status=502), Fault(reset=True)], ids=["502", "reset"])
def test_a_transient_failure_then_the_senders_retry_creates_exactly_one_owner(
    sandbox: Sandbox, source: str, fault: Fault
) -> None:
    sandbox.gateway.inject(fault)
    request = senders.request(source, delivery_id=f"{source}-transient")
    assert send(request).status == 503
    assert send(again(source, request)).status == 200
    assert sandbox.gateway.owners == ["+905551234567"]


def test_an_ambiguous_failure_is_the_one_path_to_a_duplicate(sandbox: Sandbox, logs: Logs) -> None:
    # The gateway created the owner and dropped the connection: the sender must retry, and the retry
    # creates a second owner. This is the documented risk, counted by the AmbiguousForward metric.
    sandbox.gateway.inject(Fault(create_first=True))
    request = senders.request("tally", delivery_id="ambiguous-1")
    assert send(request).code == "upstream_ambiguous"
    assert send(request).status == 200
    assert sandbox.gateway.owners == ["+905551234567", "+905551234567"]
    assert logs()[0]["outcome"] == "upstream_ambiguous"


@pytest.mark.parametrize("phone_memory", ["on", "off"])
def test_new_deliveries_cost_three_dynamodb_round_trips_and_repeats_one(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, phone_memory: str
) -> None:
    if phone_memory == "off":
        monkeypatch.setenv("PHONE_DEDUPLICATION_SECONDS", "0")
    send(senders.request("zapier", "05551234560", delivery_id="warm-up"))  # build the clients
    before = sandbox.aws.dynamodb_calls()
    request = senders.request("zapier", "05551234568", delivery_id="round-trips")
    send(request)
    new = sandbox.aws.dynamodb_calls() - before
    send(request)
    repeat = sandbox.aws.dynamodb_calls() - before - new
    # New: the phone's record in progress, the delivery id's phone, the answer. Repeat: the first put.
    assert (new, repeat) == (3, 1)


def _record(sandbox: Sandbox, prefix: str) -> dict[str, Any]:
    [item] = [item for item in sandbox.aws.table_items() if item["id"]["S"].startswith(prefix)]
    return item


@pytest.mark.parametrize(
    ("environment", "window", "late"),
    [
        ({}, 7 * 86_400, 14 * 86_400),  # the phone memory, on by default; kept refusals replayed up to 14 days on
        ({"PHONE_DEDUPLICATION_SECONDS": "300000"}, 300_000, 14 * 86_400),
        ({"PHONE_DEDUPLICATION_SECONDS": "0"}, 72 * 3600, 14 * 86_400),  # off: the delivery window
        ({"PHONE_DEDUPLICATION_SECONDS": "0", "IDEMPOTENCY_TTL_SECONDS": "120000"}, 120_000, 14 * 86_400),
        ({"REFUSED_RETENTION_DAYS": "30"}, 7 * 86_400, 30 * 86_400),
        ({"REFUSED_RETENTION_DAYS": "0"}, 7 * 86_400, 900),  # nothing late but within its own invocation
    ],
)
def test_how_long_an_answer_is_remembered_and_kept(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], window: int, late: int
) -> None:
    """docs/guarantees.md: a record counts for its window, and stays as long again as a delivery may come late
    (a queued one, a kept refusal replayed), which is claimed as the table knew the phone when it arrived."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    send(senders.request("zapier", delivery_id="window-1"))
    by_phone = environment.get("PHONE_DEDUPLICATION_SECONDS") != "0"
    item = _record(sandbox, "owner-webhook-phone#" if by_phone else "owner-webhook-delivery#")
    assert abs(int(item["remembered_until"]["N"]) - (time.time() + window)) < 60
    assert int(item["expiration"]["N"]) - int(item["remembered_until"]["N"]) == late
    assert item["status"]["S"] == "COMPLETED"


def test_the_table_holds_no_phone_nor_a_hash_anybody_can_compute(sandbox: Sandbox) -> None:
    import hashlib

    send(senders.request("zapier", "0555 123 45 67", delivery_id="private-1"))
    # A delivery id that is the phone itself (a Zap mapping the phone to Idempotency-Key), and one that
    # is the hash of a body holding only the phone: both must be as unreadable as the phone.
    send(senders.request("zapier", "0555 123 45 68", delivery_id="+905551234568"))
    body = json.dumps({"phone": "+905551234569"}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {webhook_secret('zapier')}"}
    send(HttpRequest("POST", "/webhooks/zapier", body, headers))  # no Idempotency-Key: the body's hash
    text = json.dumps(sandbox.aws.table_items())
    body_id = hashlib.sha256(body).hexdigest()
    for form in ("+905551234567", "905551234567", "5551234567", "+905551234568", body_id):
        assert form not in text
        for algorithm in ("md5", "sha1", "sha256", "sha512"):
            assert hashlib.new(algorithm, form.encode()).hexdigest() not in text
            assert hashlib.new(algorithm, f"zapier\0{form}".encode()).hexdigest() not in text
        # Powertools hashes the key data: not the phone, its HMAC under the stack's key.
        for data in ({"phone": form}, form):
            assert hashlib.md5(json.dumps(data, sort_keys=True).encode()).hexdigest() not in text  # noqa: S324


def test_the_same_id_from_two_sources_is_two_deliveries(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_DEDUPLICATION_SECONDS", "0")  # one owner per delivery only
    assert send(senders.request("zapier", "05551234567", delivery_id="shared-id")).status == 200
    assert send(senders.request("generic", "05551234567", delivery_id="shared-id")).status == 200
    assert send(senders.request("zapier", "05551234567", delivery_id="shared-id")).status == 200
    assert sandbox.gateway.owners == ["+905551234567", "+905551234567"]


@pytest.mark.parametrize("broken", ["missing table", "unreachable"])
def test_a_failing_store_answers_503_and_forwards_nothing(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs, broken: str, closed_port: int
) -> None:
    if broken == "missing table":
        monkeypatch.setenv("IDEMPOTENCY_TABLE", "no-such-table")
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed_port}")
    answer = send(senders.request("zapier"))
    assert (answer.status, answer.code) == (503, "deduplication_unavailable")
    assert "Retry-After" in answer.headers
    assert sandbox.gateway.received == []
    assert logs()[0]["outcome"] == "deduplication_unavailable"


def test_without_a_table_every_delivery_is_forwarded(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    request = senders.request("zapier", delivery_id="no-table")
    assert [send(request).status, send(request).status] == [200, 200]
    assert len(sandbox.gateway.owners) == 2
    assert sandbox.aws.table_items() == []


@pytest.fixture
def second_instance(sandbox: Sandbox) -> Iterator[str]:
    """Another function instance in its own process, sharing the moto server and the gateway."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.instance"], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    process.terminate()
    process.wait(10)


def test_two_concurrent_deliveries_of_one_id_create_one_owner(sandbox: Sandbox, second_instance: str) -> None:
    http = urllib3.PoolManager()
    for url in (second_instance, None):  # both instances warm, so that the race is about the forward
        warm_up = senders.request("typeform", "05551234560", delivery_id=f"warm-up-{url}")
        if url:
            assert (
                http.request("POST", url + warm_up.path, body=warm_up.body, headers=dict(warm_up.headers)).status == 200
            )
        else:
            assert send(warm_up).status == 200
    sandbox.gateway.reset()
    sandbox.gateway.inject(Fault(delay=0.6))  # the first forward is still in flight when the second arrives
    request = senders.request("typeform", delivery_id="race-1")
    results: dict[str, tuple[int, dict[str, Any], str | None]] = {}

    def over_http() -> None:
        response = http.request(
            "POST", second_instance + request.path, body=request.body, headers=dict(request.headers)
        )
        results["http"] = (response.status, json.loads(response.data), response.headers.get("Retry-After"))

    racer = threading.Thread(target=over_http)
    racer.start()
    time.sleep(0.15)
    local = send(request)
    racer.join(10)
    statuses = sorted([local.status, results["http"][0]])
    assert statuses == [200, 409]
    in_progress = (
        local if local.status == 409 else Answer(*results["http"][:2], {"Retry-After": results["http"][2] or ""})
    )
    assert in_progress.code == "in_progress"
    assert int(in_progress.headers["Retry-After"]) > 0
    sandbox.gateway.settle()
    assert sandbox.gateway.owners == ["+905551234567"]
    # The sender's retry after the first finished is a replay.
    assert send(request).body == {"success": True}
    assert sandbox.gateway.owners == ["+905551234567"]
