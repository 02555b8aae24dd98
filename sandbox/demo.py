"""`make demo`: the whole local path on every event in events/, over real HTTP, as a table.

Starts the moto server (Secrets Manager, DynamoDB, SQS), the sandbox gateway and a local endpoint in
front of the handler; sends each event's request (signed again where the signature has a timestamp);
checks each answer against events/expected.json; then plays one gateway outage absorbed by the retry
queue and its forwarder, and one recipe with a wrong phone place whose refusal is kept, then replayed
once the recipe is fixed (`make refused`, `make replay-refused`); stops it all.
Exits 1 if any answer differs from what is expected.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import urllib3

from owner_webhook.phone import mask
from sandbox import catalog, local_secrets
from sandbox.aws import LOCAL_SECRET, SECRETS
from sandbox.gateway import Fault
from sandbox.stack import Sandbox, new_instance

LOG_FILE = Path(__file__).resolve().parent.parent / ".demo" / "function.log"


@dataclass(frozen=True)
class Row:
    event: str
    status: int
    code: str
    received: list[str]  # what the gateway received: its answer and the masked phone
    expected: bool


def send_events(endpoint_url: str, sandbox: Sandbox) -> list[Row]:
    """Send each event's HTTP request to the endpoint and compare with events/expected.json.

    The function must read the secret on every request (SECRET_CACHE_SECONDS=0), since some events
    need the Standard Webhooks variant of the local secret.
    """
    http = urllib3.PoolManager()
    rows = []
    current = ""
    for case in catalog.cases():
        if case.secret != current:
            sandbox.aws.put_secret(SECRETS[case.secret])
            current = case.secret
        request = case.request
        before = len(sandbox.gateway.received)
        query = f"?{request.query}" if request.query else ""
        response = http.request(
            request.method, f"{endpoint_url}{request.path}{query}", body=request.body, headers=dict(request.headers)
        )
        answer = json.loads(response.data)
        code = catalog.answer_code(answer)
        received = sandbox.gateway.received[before:]
        created = [r.phone for r in received if r.status == 200]
        ok = (response.status, code) == (case.status, case.code) and created == ([case.owner] if case.owner else [])
        rows.append(Row(case.name, response.status, code, [f"{r.status} {mask(r.phone or '')}" for r in received], ok))
    sandbox.aws.put_secret(SECRETS["default"])
    return rows


def outage(endpoint_url: str, sandbox: Sandbox) -> list[str]:
    """One gateway outage absorbed by the retry queue: queued, waits while down, drained once it is up."""
    from owner_webhook.forwarder import lambda_handler as forwarder
    from sandbox import queue, senders

    steps = []
    sandbox.gateway.chaos(1.0, [Fault(status=503, retry_after=120)], seed=0)
    request = senders.request("jotform", "0555 765 43 21", delivery_id="6084250982513019999")
    response = urllib3.request("POST", f"{endpoint_url}{request.path}?{request.query}", body=request.body,
                               headers=dict(request.headers))  # fmt: skip
    steps.append(
        f"gateway down; Jotform (which never retries) posts a signup: {response.status} {response.data.decode()}"
    )
    steps.append(f"retry queue: {queue.depth(sandbox.aws, sandbox.queue_url)} message")
    handled, failed = queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder)
    steps.append(f"forwarder, gateway still down: {handled} message, {failed} back on the queue to wait")
    sandbox.gateway.chaos(0, [], seed=0)
    handled, failed = queue.poll_once(sandbox.aws, sandbox.queue_url, forwarder)
    owners = [mask(phone) for phone in sandbox.gateway.owners if phone == "+905557654321"]
    steps.append(f"gateway back; forwarder: {handled} message, {failed} failed; owners created: {', '.join(owners)}")
    depths = queue.depth(sandbox.aws, sandbox.queue_url), queue.depth(sandbox.aws, sandbox.dead_letter_url)
    steps.append(f"retry queue: {depths[0]} messages, dead-letter queue: {depths[1]}")
    ok = response.status == 200 and len(owners) == 1 and depths == (0, 0)
    return [*steps, "as expected" if ok else "NOT as expected"]


# A sender of the user's own, wired with a wrong phone place: the form sends `telephone`.
SIGNUP = "signup"
SIGNUP_TOKEN = local_secrets.webhook_secret(SIGNUP)
SIGNUP_RECIPE = {
    "for": "the demo's own signup form",
    "credential": {"token": "header:X-Signup-Token"},
    "phone": ["mobile"],
    "delivery_id": ["submission"],
    "refusals": "acknowledge",
    "retries": False,
}


def kept_and_replayed(endpoint_url: str, sandbox: Sandbox) -> list[str]:
    """A recipe that looks for the phone in the wrong place refuses a signup, which is kept; the recipe fixed,
    `make replay-refused` runs it again and the owner is created."""
    from owner_webhook import sources
    from tools import refused

    steps = []
    secrets = {**LOCAL_SECRET["webhook_secrets"], SIGNUP: SIGNUP_TOKEN}
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": secrets})
    store = refused.local_store(sandbox.aws.url, endpoint_url)
    bundled = sources.RECIPES
    with tempfile.TemporaryDirectory() as recipes:
        sources.RECIPES = Path(recipes)  # as if in src/owner_webhook/recipes/
        try:
            recipe = Path(recipes) / f"{SIGNUP}.json"
            recipe.write_text(json.dumps(SIGNUP_RECIPE))
            new_instance()
            body = json.dumps({"submission": "f-1001", "name": "Ayşe", "telephone": "0555 987 65 43"})
            headers = {"Content-Type": "application/json", "X-Signup-Token": SIGNUP_TOKEN}
            response = urllib3.request("POST", f"{endpoint_url}/webhooks/{SIGNUP}", body=body, headers=headers)
            steps.append(f'recipe {SIGNUP}.json looks for the phone at "mobile"; the form sends "telephone":')
            steps.append(f"  {response.status} {response.data.decode()}")
            steps.append(f"make refused SOURCE={SIGNUP}:")
            listed = refused.kept(store, source=SIGNUP, now=time.time())
            steps += [f"  {line}" for line in refused.listing(store, listed, f" of {SIGNUP}")]
            recipe.write_text(json.dumps({**SIGNUP_RECIPE, "phone": ["telephone"]}))
            steps.append(f'the recipe fixed ("telephone"); make replay-refused SOURCE={SIGNUP}:')
            found = refused.kept(store, source=SIGNUP, now=time.time())
            steps += [f"  {line}" for line in refused.replay(store, found, f" of {SIGNUP}", dry_run=False)]
        finally:
            sources.RECIPES = bundled
            new_instance()
    owners = [mask(phone) for phone in sandbox.gateway.owners if phone == "+905559876543"]
    left = len(refused.kept(store, source=SIGNUP, now=time.time()))
    steps.append(f"owners created: {', '.join(owners) or 'none'}; kept refusals of {SIGNUP} left: {left}")
    ok = response.status == 200 and len(found) == 1 and len(owners) == 1 and left == 0
    return [*steps, "as expected" if ok else "NOT as expected"]


def table(rows: list[Row]) -> list[str]:
    """The rows as make demo prints them (docs/local.md shows some: tests/integration/test_events.py)."""
    cells = [("event", "status", "answer", "gateway received", "as expected")]
    cells += [
        (r.event, str(r.status), r.code, ", ".join(r.received) or "-", "yes" if r.expected else "NO") for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]


def main() -> int:
    from owner_webhook.handler import lambda_handler
    from owner_webhook.observability import logger

    started = time.perf_counter()
    LOG_FILE.parent.mkdir(exist_ok=True)
    environment = {"SECRET_CACHE_SECONDS": "0"}
    with (
        LOG_FILE.open("w") as log,
        contextlib.redirect_stdout(log),  # the metrics' lines too (Powertools prints them)
        Sandbox(handler=lambda_handler, environment=environment, queue=True) as sandbox,
    ):
        handler = logger.registered_handler
        if hasattr(handler, "setStream"):
            handler.setStream(log)  # the function's JSON log lines go to a file, the table to the terminal
        assert sandbox.endpoint is not None
        rows = send_events(sandbox.endpoint.url, sandbox)
        absorbed = outage(sandbox.endpoint.url, sandbox)
        replayed = kept_and_replayed(sandbox.endpoint.url, sandbox)
    print("\n".join(table(rows)))
    print("\nAn outage absorbed by the retry queue:")
    print("\n".join(f"  {step}" for step in absorbed))
    print("\nA signup refused by a wrong recipe, kept, and replayed after the fix:")
    print("\n".join(f"  {step}" for step in replayed))
    print(f"\n{len(rows)} events in {time.perf_counter() - started:.1f} s; the function's log lines: {LOG_FILE}")
    failures = sum(not r.expected for r in rows) + (absorbed[-1] != "as expected") + (replayed[-1] != "as expected")
    if failures:
        print(f"{failures} answer(s) differ from events/expected.json", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
