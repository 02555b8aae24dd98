"""The artifact in the Lambda runtime: every event in events/, the answer table's main rows, the retry
forwarder on a real SQS batch after an outage, a refusal kept and replayed, and the function timeout as the
runtime sets it.

The promise: docs/local.md and docs/development.md (`make artifact-test`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import catalog, queue, senders
from sandbox.aws import SECRETS
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.runtime import Invocation, LambdaRuntime
from sandbox.stack import Sandbox
from tests.runtime.conftest import hosted


def answer(invocation: Invocation) -> tuple[int, str]:
    """The status and the answer's code (owner_created, queued, phone_existing or the error code)."""
    result = invocation.payload
    assert result["headers"]["Content-Type"] == "application/json"
    return result["statusCode"], catalog.answer_code(json.loads(result["body"]))


def logged(invocation: Invocation, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in invocation.logs]
    return [line for line in lines if line.get("message") == message]


def send(runtime: LambdaRuntime, source: str, phone: str = "0555 123 45 67", **options: Any) -> Invocation:
    return runtime.invoke(http_api_event(senders.request(source, phone, **options)))


@pytest.mark.parametrize("case", catalog.cases(), ids=lambda c: c.name)
def test_event_file(stack: Sandbox, webhook: LambdaRuntime, case: catalog.Case) -> None:
    stack.aws.put_secret(SECRETS[case.secret])
    first = [c for c in catalog.cases() if c.name == case.after]
    for earlier in first:  # a repeated phone: its first delivery
        assert answer(webhook.invoke(earlier.event)) == (earlier.status, earlier.code)
    invocation = webhook.invoke(case.event)
    assert answer(invocation) == (case.status, case.code)
    assert stack.gateway.owners == [c.owner for c in [*first, case] if c.owner]
    [line] = logged(invocation, "webhook answered")
    assert line["status"] == case.status
    assert invocation.report.startswith("REPORT RequestId: ")


def test_the_first_invocation_reports_the_runtime_init(stack: Sandbox) -> None:
    for runtime in hosted("WebhookFunction", stack):
        first, second = send(runtime, "zapier"), send(runtime, "tally", "0555 123 45 68")
        assert first.init_ms is not None and first.init_ms > 0
        assert (second.init_report, second.init_ms) == (None, None)
        assert logged(first, "webhook answered")[0]["cold_start"] is True
        assert logged(second, "webhook answered")[0]["cold_start"] is False


@pytest.fixture(scope="module")
def unqueued(stack: Sandbox) -> Iterator[LambdaRuntime]:
    """Without the retry queue, so that a gateway failure reaches the sender."""
    yield from hosted("WebhookFunction", stack, RETRY_QUEUE_URL="", GATEWAY_READ_TIMEOUT="0.3")


@pytest.mark.parametrize(
    ("fault", "source", "phone", "expected", "retry_after"),
    [
        (None, "typeform", "0555 123 45 67", (200, "owner_created"), None),
        (None, "zapier", "+90 555 123", (422, "invalid_phone"), None),
        (Fault(status=400), "zapier", "0555 123 45 67", (422, "rejected_phone"), None),
        (Fault(status=503, retry_after=11), "generic", "0555 123 45 67", (503, "upstream_unavailable"), "11"),
        (Fault(status=500), "zapier", "0555 123 45 67", (503, "upstream_unavailable"), "60"),
        (Fault(reset=True), "tally", "0555 123 45 67", (503, "upstream_ambiguous"), "60"),
        (Fault(delay=1.0), "zapier", "0555 123 45 67", (503, "upstream_ambiguous"), "60"),
    ],
)
def test_answer_table(
    stack: Sandbox,
    unqueued: LambdaRuntime,
    fault: Fault | None,
    source: str,
    phone: str,
    expected: tuple[int, str],
    retry_after: str | None,
) -> None:
    if fault:
        stack.gateway.inject(fault)
    invocation = send(unqueued, source, phone)
    assert answer(invocation) == expected
    assert invocation.payload["headers"].get("Retry-After") == retry_after


@pytest.mark.parametrize(
    ("source", "expected"), [("zapier", (401, "unauthenticated")), ("myspace", (404, "unknown_source"))]
)
def test_refusals(unqueued: LambdaRuntime, stack: Sandbox, source: str, expected: tuple[int, str]) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer wrong-token"}
    request = HttpRequest("POST", f"/webhooks/{source}", b'{"phone": "0555 123 45 67"}', headers)
    assert answer(unqueued.invoke(http_api_event(request))) == expected
    assert stack.gateway.received == []


def test_an_outage_is_queued_then_drained_by_the_forwarder_from_a_real_sqs_batch(
    stack: Sandbox, webhook: LambdaRuntime, forwarder: LambdaRuntime
) -> None:
    stack.gateway.chaos(1.0, [Fault(status=503, retry_after=30), Fault(status=500)], seed=1)
    sources = ["jotform", "zapier", "typeform"]
    for n, source in enumerate(sources):
        assert answer(send(webhook, source, f"0555 123 45 {n:02d}")) == (200, "queued")
    assert queue.depth(stack.aws, stack.queue_url) == len(sources)
    batches: list[Invocation] = []

    def hosted_forwarder(event: dict[str, Any], _context: Any) -> Any:
        assert {record["eventSource"] for record in event["Records"]} == {"aws:sqs"}
        batches.append(forwarder.invoke(event))
        return batches[-1].payload

    assert queue.poll_once(stack.aws, stack.queue_url, hosted_forwarder) == (3, 3)  # still down: all wait
    stack.gateway.chaos(0, [], seed=0)  # the gateway recovers
    assert queue.drain(stack.aws, stack.queue_url, hosted_forwarder) == len(sources)
    assert sorted(stack.gateway.owners) == [f"+9055512345{n:02d}" for n in range(len(sources))]
    assert batches[-1].payload == {"batchItemFailures": []}
    outcomes = {line["outcome"] for batch in batches for line in logged(batch, "queued delivery handled")}
    assert outcomes == {"retry_later", "drained"}
    assert queue.depth(stack.aws, stack.queue_url) == queue.depth(stack.aws, stack.dead_letter_url) == 0


def test_a_refusal_is_kept_by_the_webhook_and_replayed_by_the_forwarder(
    stack: Sandbox, webhook: LambdaRuntime, forwarder: LambdaRuntime
) -> None:
    """docs/security.md, "Kept refusals": the bundle keeps it (its S3 client in the runtime's boto3), and the
    forwarder takes a replay event; the recipe unchanged, it is refused again and kept again."""
    invocation = send(webhook, "zapier", "+90 555 123")
    assert answer(invocation) == (422, "invalid_phone")
    [line] = logged(invocation, "webhook answered")
    [(name, kept)] = stack.aws.kept_refusals().items()
    assert name == f"zapier/{line['refusal_kept']}" and kept["encryption"] == ("aws:kms", stack.refused_key)
    replay = forwarder.invoke({"replay": kept["body"]})
    assert (replay.payload["outcome"], replay.payload["fields"]["refusal_kept"]) == (
        "invalid_phone",
        line["refusal_kept"],
    )
    assert [line["outcome"] for line in logged(replay, "kept refusal replayed")] == ["invalid_phone"]
    assert stack.gateway.received == []


def test_the_forward_never_outlasts_the_timeout_the_runtime_sets(stack: Sandbox) -> None:
    stack.gateway.inject(Fault(delay=12))
    # 4 s: the least in which a forward still fits with one AWS call at its worst before and after it.
    for runtime in hosted("WebhookFunction", stack, RETRY_QUEUE_URL="", AWS_LAMBDA_FUNCTION_TIMEOUT="4"):
        send(runtime, "zapier", "0555 123 45 00")  # warm: the init is not part of the invocation's time
        stack.gateway.reset()
        stack.gateway.inject(Fault(delay=12))
        invocation = send(runtime, "zapier")
        assert answer(invocation) == (503, "upstream_ambiguous")  # answered, not killed by the runtime
        assert 1000 < invocation.duration_ms < 4000


def test_the_bench_takes_the_cold_start_from_the_runtime(stack: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import run

    monkeypatch.setattr(run, "COLD_RUNS", 1)
    figures = run.runtime_cold(stack.environment())
    assert set(figures) == {
        "adapter_runtime_cold",
        "adapter_runtime_cold_deployed",
        "peer_runtime_cold",
        "library_floor_runtime_cold",
    }
    for case in figures.values():
        assert case["init_median_ms"] > 0 and case["invoke_median_ms"] > 0
        assert case["median_ms"] == case["init_median_ms"] + case["invoke_median_ms"]
    assert len(stack.gateway.owners) == 4  # each case answered 200 with an owner, the library floor's too


def test_the_bench_measures_the_deployed_path_in_the_runtime(stack: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both functions emulated, the forwarder behind the Invoke stand-in: its INIT on its first invocation only."""
    from bench import deployed

    monkeypatch.setattr(deployed, "WARM_UP", 1)
    monkeypatch.setattr(deployed, "WARM_REQUESTS", 3)
    figures = deployed.pair(stack.environment())
    cold, warm = figures["cold"], figures["warm"]
    assert cold["outcome"] == "owner_created" and len(warm) == 3
    assert cold["forwarder_init_ms"] > 0 and cold["webhook_init_ms"] > 0
    # The forwarder's invocation lies inside the webhook's, and the invoke inside the webhook's invocation.
    assert cold["forwarder_init_ms"] + cold["forwarder_invoke_ms"] < cold["invoke_ms"] < cold["webhook_invoke_ms"]
    assert all(0 < w["hop_ms"] < w["invoke_ms"] < w["webhook_ms"] for w in warm)
    assert cold["billed_ms"] >= cold["answered_ms"] + cold["forwarder_init_ms"] + cold["forwarder_invoke_ms"]
    assert len(stack.gateway.owners) == 5
