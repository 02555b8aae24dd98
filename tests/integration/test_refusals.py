"""Kept refusals (docs/security.md, "Kept refusals"; docs/operations.md, "A recipe refused signups: fix it, then
replay them"): every authenticated delivery that ends without an owner and without being queued is kept as
received, encrypted under the store's KMS key, named and described without its phone; nothing else is kept;
a store that fails changes no answer; the off switch and the retention hold; and a replay after the fix
creates exactly one owner, however often it runs."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from sandbox import queue, senders
from sandbox.aws import LOCAL_SECRET, REFUSED_BUCKET
from sandbox.endpoint import LocalEndpoint
from sandbox.events import HttpRequest, LocalContext, http_api_event
from sandbox.gateway import Fault
from sandbox.lambda_service import FunctionConfig, LocalLambda
from sandbox.local_secrets import webhook_secret
from sandbox.stack import FORWARDER_FUNCTION, Sandbox, invoked_forwarder, new_instance
from tests.conftest import EVENTS, ROOT
from tests.integration.conftest import Answer, invoke_event, webhook
from tools import refused

Logs = Callable[[], list[dict[str, Any]]]
PHONE = "0555 123 45 67"
E164 = "+905551234567"
# The phone in every form a leak would take; the requests below also carry it as their delivery id.
PRIVATE = (E164, "5551234567", PHONE, "555 123 45")
NAME = re.compile(r"(?P<source>[a-z0-9_-]+)/(?P<id>[a-p]{24})")
DAY = 86_400
SIGNUP_TOKEN = webhook_secret("signup")  # the token of the recipe of the fix-and-replay tests


def signed(source: str, body: bytes, headers: dict[str, str], query: str = "") -> Answer:
    request = HttpRequest("POST", f"/webhooks/{source}", body, headers, query)
    return invoke_event(http_api_event(senders.sign(source, request, LOCAL_SECRET["webhook_secrets"][source])))


def missing_phone(sandbox: Sandbox) -> Answer:
    """A Zap whose phone sits where nothing named like a phone is."""
    return webhook("zapier", {"name": "Ayşe", "contact": {"number": PHONE}}, headers={"Idempotency-Key": PHONE})


def invalid_phone(sandbox: Sandbox) -> Answer:
    body, headers = senders.payload("typeform", "0555 123 45 6", delivery_id=PHONE)
    return signed("typeform", body, headers)


def rejected_phone(sandbox: Sandbox) -> Answer:
    sandbox.gateway.rejected_phones.add(E164)
    return webhook("zapier", {"name": "Ayşe", "phone": PHONE}, headers={"Idempotency-Key": PHONE})


def unreadable_body(sandbox: Sandbox) -> Answer:
    body = f'{{"eventId": "{PHONE}", "data": {{"fields": [{{"value": "{PHONE}"'.encode()  # cut short
    return signed("tally", body, {"content-type": "application/json"})


def unsupported_type(sandbox: Sandbox) -> Answer:
    body = f"<customer><phone>{PHONE}</phone></customer>".encode()
    return signed("shopify", body, {"content-type": "application/xml", "x-shopify-webhook-id": PHONE})


# (how the delivery is refused, its source, the answer, what the listing shows as its phone)
KINDS = [
    (missing_phone, "zapier", (422, "missing_phone"), None),
    (invalid_phone, "typeform", (200, "invalid_phone"), "10 digits, ending 56"),
    (rejected_phone, "zapier", (422, "rejected_phone"), "+90555*****67"),
    (unreadable_body, "tally", (400, "malformed_body"), None),
    (unsupported_type, "shopify", (415, "unsupported_media_type"), None),
]


def _answered(logs: Logs) -> list[dict[str, Any]]:
    return [line for line in logs() if line["message"] == "webhook answered"]


def _no_phone_in(*texts: str) -> None:
    for text in texts:
        for private in PRIVATE:
            assert private not in text


@pytest.mark.parametrize(("refuse", "source", "answer", "phone"), KINDS, ids=[kind[0].__name__ for kind in KINDS])
def test_each_kind_of_refusal_is_kept_as_received_and_nothing_names_its_phone(
    sandbox: Sandbox,
    logs: Logs,
    refuse: Callable[[Sandbox], Answer],
    source: str,
    answer: tuple[int, str],
    phone: str | None,
) -> None:
    got = refuse(sandbox)
    assert (got.status, got.code) == answer
    [(name, kept)] = sandbox.aws.kept_refusals().items()
    [line] = _answered(logs)
    found = NAME.fullmatch(name)
    assert found and found["source"] == source and line["refusal_kept"] == found["id"]
    assert kept["metadata"] == {"reason": answer[1]}
    assert kept["encryption"] == ("aws:kms", sandbox.refused_key)
    _no_phone_in(name, json.dumps(kept["metadata"]), json.dumps(logs()))
    body = kept["body"]
    assert (body["source"], body["reason"], body["phone"]) == (source, answer[1], phone)
    assert PHONE.encode() in base64.b64decode(body["body"])  # as received: the fix will find it there
    assert body["e164"] is None and body["places"]
    assert set(body["headers"]) <= {"content-type", "idempotency-key", "x-shopify-webhook-id"}  # never a credential
    assert body["kept_until"] - body["kept_at"] == pytest.approx(14 * DAY)


@pytest.mark.parametrize("event", ["wufoo-missing-phone.json", "jotform-missing-phone.json"])
def test_a_kept_body_holds_no_credential_the_sender_put_in_it(sandbox: Sandbox, event: str) -> None:
    """Wufoo sends its HandshakeKey in the body (Jotform its token in the query, never kept): whoever may read
    kept refusals must not learn how to sign a delivery; the rest of the body is as received."""
    source = event.split("-")[0]
    secret = LOCAL_SECRET["webhook_secrets"][source]
    received = json.loads((EVENTS / event).read_text())
    answer = invoke_event(received)
    assert (answer.status, answer.code) == (200, "missing_phone")
    [kept] = sandbox.aws.kept_refusals().values()
    body = base64.b64decode(kept["body"]["body"])
    assert secret.encode() not in body and quote_plus(secret).encode() not in body
    assert secret not in json.dumps(kept)
    raw = base64.b64decode(received["body"]) if received.get("isBase64Encoded") else received["body"].encode()
    assert secret.encode() in raw or quote_plus(secret).encode() in raw or source == "jotform"  # the sender's had it
    assert len(body) > len(raw) // 2  # the rest is kept, for the replay


TOKEN = "tok/en+part/2026~x"  # a token with characters each encoder writes its own way


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"auth": {"token": "tok\\/en+part\\/2026~x"}, "name": "Ay\\u015fe"}'),  # PHP's
        ("application/json", b'{"auth": {"token": "\\u0074ok/en+part/2026~x"}, "name": "x"}'),  # \\u escapes
        ("application/x-www-form-urlencoded", b"auth=tok%2fen%2Bpart%2F2026%7Ex&name=x"),  # lower-case, %7E
        ("application/x-www-form-urlencoded", b"auth=tok%2Fen%2Bpart%2F2026~x&name=x"),
    ],
)
def test_a_body_credential_is_taken_out_however_the_sender_spelled_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content_type: str, body: bytes
) -> None:
    """A recipe's `body:` token, written as PHP, another JSON encoder or a form encoder writes it: the delivery is
    authenticated (the parser reads every spelling), and what is kept holds the token in none of them."""
    from owner_webhook import sources

    place = "body:auth.token" if content_type == "application/json" else "body:auth"
    recipe = {"credential": {"token": place}, "phone": ["mobile"], "body": ["json", "form"], "retries": False}
    (tmp_path / "formtool.json").write_text(json.dumps(recipe))
    monkeypatch.setattr(sources, "RECIPES", tmp_path)
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "formtool": TOKEN}})
    new_instance()
    got = invoke_event(
        http_api_event(HttpRequest("POST", "/webhooks/formtool", body, {"content-type": content_type}, ""))
    )
    assert got.code == "missing_phone"  # authenticated, then refused: the recipe looks at "mobile"
    [kept] = sandbox.aws.kept_refusals().values()
    stored = base64.b64decode(kept["body"]["body"])
    for spelling in (TOKEN, "tok\\/en", "%2Fen", "%2fen", "\\u0074ok", "2026~x", "2026%7Ex"):
        assert spelling.encode() not in stored
    assert b"name" in stored  # the rest is kept, for the replay


@pytest.fixture
def queued_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry queue, for Jotform's deliveries only: Zapier's transient failures are answered 503."""
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    monkeypatch.setenv("QUEUE_SOURCES", "jotform")


def _dry_run_missing(sandbox: Sandbox) -> Answer:
    body = json.dumps({"name": "Ayşe", "contact": {"number": PHONE}}).encode()
    return signed("zapier", body, {"content-type": "application/json"}, query="dry_run=1")


def _dry_run_unreadable(sandbox: Sandbox) -> Answer:
    return signed("tally", b'{"data": ', {"content-type": "application/json"}, query="dry_run=1")


def _queued(sandbox: Sandbox) -> Answer:
    sandbox.gateway.inject(Fault(status=503, retry_after=30))
    return invoke_event(http_api_event(senders.request("jotform", PHONE)))


def _created_then_existing(sandbox: Sandbox) -> Answer:
    assert webhook("zapier", {"phone": PHONE}, headers={"Idempotency-Key": "first"}).status == 200
    return webhook("zapier", {"phone": PHONE}, headers={"Idempotency-Key": "second"})


def _transient(sandbox: Sandbox) -> Answer:
    sandbox.gateway.inject(Fault(status=500))
    return webhook("zapier", {"phone": PHONE})


NOT_KEPT = [
    ("created", lambda sandbox: webhook("zapier", {"phone": PHONE}), (200, "")),
    ("existing", _created_then_existing, (200, "")),
    ("queued", _queued, (200, "")),
    ("transient", _transient, (503, "upstream_unavailable")),
    ("unauthenticated", lambda sandbox: webhook("zapier", {"name": "Ayşe"}, token="wrong"), (401, "unauthenticated")),
    ("unknown-source-signed-nowhere", lambda sandbox: webhook("nosuch", {"name": "x"}), (404, "unknown_source")),
    ("dry-run-missing-phone", _dry_run_missing, (200, "")),
    ("dry-run-unreadable-body", _dry_run_unreadable, (400, "malformed_body")),
]


@pytest.mark.parametrize(("case", "send", "answer"), NOT_KEPT, ids=[case[0] for case in NOT_KEPT])
def test_what_is_queued_created_unauthenticated_or_a_dry_run_is_never_kept(
    sandbox: Sandbox, queued_env: None, logs: Logs, case: str, send: Callable[[Sandbox], Answer], answer: Any
) -> None:
    before = sandbox.aws.count("s3.PutObject")
    got = send(sandbox)
    assert (got.status, got.code if got.status >= 300 else "") == answer
    assert case != "queued" or got.body == {"success": True, "queued": True}
    assert sandbox.aws.count("s3.PutObject") == before  # not even tried
    assert sandbox.aws.kept_refusals() == {}
    assert not [line for line in logs() if "refusal_kept" in line or "refusal_not_kept" in line]


def _failing(fault: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> float:
    """Break the store as `fault` says; the seconds the invocation is given."""
    if fault == "s3-error":
        sandbox.aws.fail_next("s3.PutObject")
    elif fault == "s3-hangs":
        sandbox.aws.fail_next("s3.PutObject", after=2.0)  # past the client's read timeout
    elif fault == "no-bucket":
        monkeypatch.setenv("REFUSED_BUCKET", "owner-webhook-no-such-bucket")
    elif fault == "no-time-left":
        return 1.7  # less than the store's 1.5 s after what comes before it and the answer's 0.3 s
    elif fault == "phone-key-unreadable":
        monkeypatch.setenv("PHONE_KEY_SECRET_ID", "owner-webhook/no-such-secret")
    return 10.0


def _event(source: str, body: bytes) -> dict[str, Any]:
    request = HttpRequest("POST", f"/webhooks/{source}", body, {"content-type": "application/json"})
    return http_api_event(senders.sign(source, request, LOCAL_SECRET["webhook_secrets"][source]))


MISSING = (json.dumps({"name": "Ayşe", "contact": {"number": PHONE}}).encode(), "zapier", 422, "missing_phone")
# The phone key names a kept refusal: a body that cannot be read is refused before the key is needed.
UNREADABLE = (f'{{"eventId": "{PHONE}", "data": '.encode(), "tally", 400, "malformed_body")
FAULTS = [
    ("s3-error", MISSING),
    ("s3-hangs", MISSING),
    ("no-bucket", MISSING),
    ("no-time-left", MISSING),
    ("phone-key-unreadable", UNREADABLE),
]


@pytest.mark.parametrize(("fault", "refused_as"), FAULTS, ids=[fault for fault, _ in FAULTS])
def test_a_store_that_fails_changes_no_answer_and_is_counted_and_said_without_content(
    sandbox: Sandbox,
    logs: Logs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    refused_as: tuple[bytes, str, int, str],
) -> None:
    body, source, status, code = refused_as
    seconds = _failing(fault, sandbox, monkeypatch)
    started = time.monotonic()
    result = _lambda(_event(source, body), seconds)
    assert time.monotonic() - started < seconds  # answered in time, whatever the store did
    assert (result["statusCode"], json.loads(result["body"])["error"]["code"]) == (status, code)
    [line] = _answered(logs)
    assert line["outcome"] == code and "refusal_kept" not in line
    assert line["refusal_not_kept"]  # why, in a word: never the content
    _no_phone_in(json.dumps(logs()))
    metrics = [json.loads(out) for out in capsys.readouterr().out.splitlines() if out.startswith('{"_aws"')]
    assert any(record.get("RefusalNotKept") == [1.0] for record in metrics)
    assert sandbox.aws.kept_refusals() == {}


def _lambda(event: dict[str, Any], seconds: float) -> dict[str, Any]:
    from owner_webhook.handler import lambda_handler

    result: dict[str, Any] = lambda_handler(event, LocalContext(timeout_seconds=seconds))
    return result


@pytest.mark.parametrize(("variable", "value"), [("REFUSED_RETENTION_DAYS", "0"), ("REFUSED_BUCKET", "")])
def test_the_off_switch_keeps_nothing_and_calls_no_store(
    sandbox: Sandbox, logs: Logs, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    before = sandbox.aws.count("s3.PutObject")
    assert missing_phone(sandbox).code == "missing_phone"
    assert sandbox.aws.count("s3.PutObject") == before
    assert sandbox.aws.kept_refusals() == {}
    assert not [line for line in logs() if "refusal_kept" in line or "refusal_not_kept" in line]


def test_a_refusal_is_kept_for_the_retention_and_not_listed_or_replayed_after_it(
    sandbox: Sandbox, endpoint: LocalEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFUSED_RETENTION_DAYS", "2")
    assert missing_phone(sandbox).code == "missing_phone"
    [kept] = sandbox.aws.kept_refusals().values()
    assert kept["body"]["kept_until"] - kept["body"]["kept_at"] == pytest.approx(2 * DAY)
    store = refused.local_store(sandbox.aws.url, endpoint.url)
    assert len(refused.kept(store, now=time.time() + 2 * DAY - 60)) == 1
    assert refused.kept(store, now=time.time() + 2 * DAY + 60) == []  # S3's lifecycle rule deletes it


# -- make refused and make replay-refused ---------------------------------------------------------------------


@pytest.fixture
def endpoint(sandbox: Sandbox) -> Iterator[LocalEndpoint]:
    """make serve's endpoint: the webhook, and the Invoke API for the forwarder (the one make replay-refused calls)."""
    from owner_webhook.handler import lambda_handler

    running = LocalEndpoint(lambda_handler, functions={FORWARDER_FUNCTION: invoked_forwarder}).start()
    yield running
    running.stop()


@pytest.fixture
def recipes(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """A recipe of the user's own, `signup`, whose phone places the test writes (as in src/owner_webhook/recipes/)."""
    from owner_webhook import sources

    monkeypatch.setattr(sources, "RECIPES", tmp_path)
    secrets = {**LOCAL_SECRET["webhook_secrets"], "signup": SIGNUP_TOKEN}
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": secrets})

    def write(places: list[str], events: dict[str, Any] | None = None) -> None:
        recipe = {"credential": {"token": "header:X-Signup-Token"}, "phone": places, "delivery_id": ["id"],
                  "refusals": "acknowledge", "retries": False, "events": events}  # fmt: skip
        (tmp_path / "signup.json").write_text(json.dumps(recipe))
        new_instance()  # deployed: the fixed recipe comes with a new version's instances

    return write


def signup(delivery_id: str, phone: str = PHONE) -> Answer:
    body = {"id": delivery_id, "name": "Ayşe", "telephone": phone}
    return webhook("signup", body, token=None, headers={"X-Signup-Token": SIGNUP_TOKEN})


def tool(capsys: pytest.CaptureFixture[str], sandbox: Sandbox, endpoint: LocalEndpoint, *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # what the function printed before: its log lines and metrics
    code = refused.main([*argv, "--endpoint", sandbox.aws.url, "--lambda-endpoint", endpoint.url])
    captured = capsys.readouterr()
    printed = "\n".join(line for line in (captured.out + captured.err).splitlines() if not line.startswith("{"))
    _no_phone_in(printed)
    return code, printed


def test_the_list_says_source_when_why_the_masked_phone_and_where_the_recipe_looked(
    sandbox: Sandbox, endpoint: LocalEndpoint, recipes: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    recipes(["mobile", "contact.mobile"])
    for _attempt in range(2):  # the sender retries: one kept refusal, replaced
        got = signup("s-1")
        assert (got.status, got.code) == (200, "missing_phone")
    assert invalid_phone(sandbox).code == "invalid_phone"
    code, out = tool(capsys, sandbox, endpoint, "list")
    assert code == 0
    assert len([line for line in out.splitlines() if re.match(r"[a-p]{24} ", line)]) == 2
    today = time.strftime("%Y-%m-%d", time.gmtime())
    signup_row = next(line for line in out.splitlines() if " signup " in line)
    assert today in signup_row and "missing_phone" in signup_row and signup_row.endswith("mobile, contact.mobile")
    typeform_row = next(line for line in out.splitlines() if " typeform " in line)
    assert "invalid_phone" in typeform_row and "10 digits, ending 56" in typeform_row
    assert "2 kept refusal(s)" in out
    _, only = tool(capsys, sandbox, endpoint, "list", "--source", "signup")
    assert " signup " in only and " typeform " not in only and "1 kept refusal(s)" in only
    _, none = tool(capsys, sandbox, endpoint, "list", "--since", "2099-01-01")
    assert none.startswith("no kept refusal since 2099-01-01 in the local stack of make serve")
    _, recent = tool(capsys, sandbox, endpoint, "list", "--since", "1h")
    assert "2 kept refusal(s)" in recent
    code, said = tool(capsys, sandbox, endpoint, "list", "--since", "last tuesday")
    assert code == 1 and "is neither a UTC date or time" in said


def test_a_replay_after_the_recipes_fix_creates_one_owner_and_twice_replayed_still_one(
    sandbox: Sandbox, endpoint: LocalEndpoint, recipes: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    recipes(["mobile"])  # the form sends `telephone`
    assert signup("s-1").code == "missing_phone"
    [kept] = sandbox.aws.kept_refusals().values()
    code, dry = tool(capsys, sandbox, endpoint, "replay", "--dry-run")
    assert code == 0 and "missing_phone" in dry and sandbox.gateway.received == []  # the recipe is still wrong
    assert "Authentication is not checked again" in dry
    recipes(["telephone"])
    code, dry = tool(capsys, sandbox, endpoint, "replay", "--dry-run")
    assert code == 0 and "owner_created" in dry and "+90555*****67" in dry and "nothing done" in dry
    for asked in (True, "yes", "false", 0, None):  # anything but false is a dry run
        assert _invoke(endpoint, {"replay": kept["body"], "dry_run": asked})["outcome"] == "dry_run"
    assert sandbox.gateway.received == [] and len(sandbox.aws.kept_refusals()) == 1
    code, out = tool(capsys, sandbox, endpoint, "replay")
    assert code == 0 and "owner_created" in out and "removed from the store" in out
    assert sandbox.gateway.owners == [E164] and sandbox.aws.kept_refusals() == {}
    # The tool stopped before removing it (or it runs twice at once): the same delivery again, still one owner.
    again = _invoke(endpoint, {"replay": kept["body"]})
    assert (again["outcome"], again["replayed"]) == ("owner_created", True)
    assert sandbox.gateway.owners == [E164]
    _, nothing = tool(capsys, sandbox, endpoint, "replay")
    assert "nothing to replay" in nothing


def test_a_replay_goes_through_todays_event_filter_too(
    sandbox: Sandbox, endpoint: LocalEndpoint, recipes: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """A kept delivery of an event today's recipe no longer takes is ignored at its replay: nothing is sent."""

    def signup(delivery_id: str, topic: str) -> Answer:
        headers = {"X-Signup-Token": SIGNUP_TOKEN, "X-Signup-Topic": topic}
        return webhook("signup", {"id": delivery_id, "telephone": PHONE}, token=None, headers=headers)

    recipes(["mobile"])
    got = signup("s-topic", "lead/deleted")
    assert got.code == "missing_phone"
    [kept] = sandbox.aws.kept_refusals().values()
    assert kept["body"]["headers"] == {"content-type": "application/json"}  # no filter yet: no topic kept
    recipes(["telephone"], {"place": "header:X-Signup-Topic", "accept": ["lead/created"]})
    got = signup("s-topic-2", "lead/deleted")
    assert got.code == "ignored" and len(sandbox.aws.kept_refusals()) == 1
    recipes(["mobile"], {"place": "header:X-Signup-Topic", "accept": ["lead/created"]})
    got = signup("s-topic-3", "lead/created")
    assert got.code == "missing_phone"
    kept_now = [
        one["body"] for one in sandbox.aws.kept_refusals().values() if one["body"]["headers"] != kept["body"]["headers"]
    ]
    assert [one["headers"]["x-signup-topic"] for one in kept_now] == ["lead/created"]  # the filter's header is kept
    recipes(["telephone"], {"place": "header:X-Signup-Topic", "accept": ["lead/created"]})
    replayed = _invoke(endpoint, {"replay": kept["body"]})  # its topic was not kept: taken, as the filter says
    assert replayed["outcome"] == "owner_created" and sandbox.gateway.owners == [E164]
    recipes(["telephone"], {"place": "header:X-Signup-Topic", "accept": ["lead/updated"]})
    assert _invoke(endpoint, {"replay": kept_now[0]})["outcome"] == "ignored"  # today's filter takes no lead/created
    assert sandbox.gateway.owners == [E164]


class _Later:
    """time as a module sees it, `days` later."""

    def __init__(self, days: float) -> None:
        self._offset = days * DAY

    def time(self) -> float:
        return time.time() + self._offset


def test_a_replay_is_answered_as_the_table_knew_the_phone_when_the_delivery_arrived(
    sandbox: Sandbox,
    endpoint: LocalEndpoint,
    recipes: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Her owner was created on day 0 (remembered 7 days); on day 5 her second signup was refused by a wrong
    recipe, when it would have been answered existing; replayed on day 10, after the table stopped remembering
    her phone for new deliveries, it is still existing: no second owner, counted or not."""
    from owner_webhook import deduplication, refusals

    assert webhook("zapier", {"phone": PHONE}, headers={"Idempotency-Key": "day-0"}).status == 200
    recipes(["mobile"])
    monkeypatch.setattr(refusals, "time", _Later(5))
    assert signup("day-5").code == "missing_phone"
    recipes(["telephone"])
    monkeypatch.setattr(deduplication, "time", _Later(10))
    code, dry = tool(capsys, sandbox, endpoint, "replay", "--dry-run")  # says what the replay does
    assert code == 0 and "phone_existing" in dry and sandbox.gateway.owners == [E164]
    code, out = tool(capsys, sandbox, endpoint, "replay")
    assert code == 0 and "phone_existing" in out and "removed from the store" in out
    assert sandbox.gateway.owners == [E164]


def test_a_phone_created_meanwhile_answers_existing_and_one_still_refused_stays_with_its_new_reason(
    sandbox: Sandbox, endpoint: LocalEndpoint, recipes: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    recipes(["mobile"])
    assert signup("s-1").code == "missing_phone"
    assert signup("s-2", phone="0555 765 43 2").code == "missing_phone"
    assert webhook("zapier", {"phone": PHONE}).status == 200  # she signed up again elsewhere meanwhile
    recipes(["telephone"])
    code, out = tool(capsys, sandbox, endpoint, "replay", "--source", "signup")
    assert code == 0
    assert "phone_existing" in out and "removed from the store" in out
    assert "invalid_phone" in out and "still refused: kept with its new reason" in out
    assert sandbox.gateway.owners == [E164]
    [kept] = sandbox.aws.kept_refusals().values()
    assert (kept["body"]["reason"], kept["body"]["phone"], kept["body"]["places"]) == (
        "invalid_phone",
        "10 digits, ending 32",
        ["telephone"],
    )
    assert kept["metadata"] == {"reason": "invalid_phone"}


def test_a_replay_the_gateway_fails_for_now_leaves_the_refusal_as_it_was(
    sandbox: Sandbox, endpoint: LocalEndpoint, recipes: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    recipes(["mobile"])
    assert signup("s-1").code == "missing_phone"
    before = sandbox.aws.kept_refusals()
    recipes(["telephone"])
    sandbox.gateway.inject(Fault(status=503, retry_after=30))
    code, out = tool(capsys, sandbox, endpoint, "replay")
    assert code == 0 and "upstream_unavailable" in out and "not replayed" in out and "it stays kept" in out
    assert sandbox.aws.kept_refusals() == before  # its reason, its body, its retention: untouched
    code, out = tool(capsys, sandbox, endpoint, "replay")
    assert "owner_created" in out and sandbox.gateway.owners == [E164] and sandbox.aws.kept_refusals() == {}


def test_a_phone_the_gateway_refused_is_forwarded_again_by_a_replay_once_the_gateway_takes_it(
    sandbox: Sandbox, endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rejected_phone(sandbox).code == "rejected_phone"  # recorded as refused for this delivery too
    code, out = tool(capsys, sandbox, endpoint, "replay")
    assert code == 0 and "rejected_phone" in out and "still refused: kept with its new reason" in out
    sandbox.gateway.rejected_phones.clear()
    code, out = tool(capsys, sandbox, endpoint, "replay", "--id", next(iter(_ids(sandbox))))
    assert code == 0 and "owner_created" in out and "removed from the store" in out
    assert sandbox.gateway.owners == [E164]
    # The sender retries the delivery: the table's answer for it is the owner now.
    assert rejected_phone(sandbox).status == 200 and sandbox.gateway.owners == [E164]
    assert sandbox.aws.kept_refusals() == {}


def test_a_phone_the_gateway_refuses_on_the_retry_queues_path_is_kept_without_a_body_and_replayed(
    sandbox: Sandbox, queued_env: None, endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str], logs: Logs
) -> None:
    assert _queued(sandbox).body == {"success": True, "queued": True}
    sandbox.gateway.rejected_phones.add(E164)
    assert queue.drain(sandbox.aws, sandbox.queue_url, invoked_forwarder) == 1
    [(name, kept)] = sandbox.aws.kept_refusals().items()
    assert NAME.fullmatch(name) and name.startswith("jotform/")
    assert (kept["body"]["reason"], kept["body"]["body"], kept["body"]["e164"]) == ("rejected_phone", None, E164)
    [line] = [line for line in logs() if line["message"] == "queued delivery handled"]
    assert line["outcome"] == "rejected_phone" and line["refusal_kept"] == NAME.fullmatch(name)["id"]  # type: ignore[index]
    _no_phone_in(name, json.dumps(kept["metadata"]), json.dumps(logs()))
    _, listed = tool(capsys, sandbox, endpoint, "list")
    assert "the retry queue's phone" in listed and "+90555*****67" in listed
    sandbox.gateway.rejected_phones.clear()
    _, out = tool(capsys, sandbox, endpoint, "replay")
    assert "owner_created" in out and sandbox.gateway.owners == [E164] and sandbox.aws.kept_refusals() == {}


def test_as_deployed_the_webhook_keeps_what_the_forwarder_function_says_the_gateway_refused(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    ceiling = {"GATEWAY_CONCURRENCY": "1", "GATEWAY_RATE_PER_SECOND": "1000"}
    with LocalLambda(
        FunctionConfig("forwarder", "owner_webhook.forwarder.lambda_handler", 1, timeout=60, environment=ceiling)
    ) as lam:
        for name, value in lam.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FORWARDER_FUNCTION", "forwarder")
        monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
        got = rejected_phone(sandbox)
    assert (got.status, got.code) == (422, "rejected_phone")
    [kept] = sandbox.aws.kept_refusals().values()
    assert kept["body"]["phone"] == "+90555*****67" and PHONE.encode() in base64.b64decode(kept["body"]["body"])
    [line] = _answered(logs)
    assert line["refusal_kept"] and line["gateway_status"] == 400


def test_a_deployed_stack_is_found_by_its_outputs_and_its_forwarder_invoked(
    sandbox: Sandbox, endpoint: LocalEndpoint, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = "owner-webhook-refused-test"
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "RefusedBucketName": {"Value": REFUSED_BUCKET},
            "ForwarderFunctionName": {"Value": FORWARDER_FUNCTION},
        },
    }
    cloudformation = sandbox.aws.client("cloudformation")
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.url)  # the stack's forwarder: this one
    try:
        assert missing_phone(sandbox).code == "missing_phone"
        code, out = tool(capsys, sandbox, endpoint, "list", "--stack", stack)
        assert code == 0 and f"in stack {stack!r} (eu-central-1)" in out and "missing_phone" in out
        code, out = tool(capsys, sandbox, endpoint, "replay", "--stack", stack)
        assert code == 0 and "still refused: kept with its new reason" in out  # Zapier's recipe is as it was
        code, out = tool(capsys, sandbox, endpoint, "list", "--stack", "no-such-stack")
        assert code == 1 and "no stack named 'no-such-stack'" in out
    finally:
        cloudformation.delete_stack(StackName=stack)


def test_clear_errors_and_a_stack_that_keeps_nothing(
    sandbox: Sandbox, endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    assert missing_phone(sandbox).code == "missing_phone"
    closed = f"http://127.0.0.1:{closed_port}"
    code = refused.main(["list", "--endpoint", closed])
    assert code == 1 and "no local stack answers" in capsys.readouterr().err
    code = refused.main(["replay", "--endpoint", sandbox.aws.url, "--lambda-endpoint", closed])
    assert code == 1 and "make serve's endpoint does not answer" in capsys.readouterr().err
    assert len(sandbox.aws.kept_refusals()) == 1  # nothing replayed, nothing removed
    stack = "owner-webhook-keeps-nothing"
    template = {"Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"ForwarderFunctionName": {"Value": FORWARDER_FUNCTION}}}  # fmt: skip
    cloudformation = sandbox.aws.client("cloudformation")
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        code, out = tool(capsys, sandbox, endpoint, "list", "--stack", stack)
        assert code == 1 and "keeps no refusals: its RefusedRetentionDays is 0" in out
    finally:
        cloudformation.delete_stack(StackName=stack)


def test_make_passes_its_values_in_the_environment_never_through_the_shell(
    sandbox: Sandbox, endpoint: LocalEndpoint, tmp_path: Path
) -> None:
    """The commands of the docs, as a person runs them; a value that the shell would run is only a value."""
    assert missing_phone(sandbox).code == "missing_phone"
    make = shutil.which("make")
    assert make is not None
    touched = tmp_path / "touched"
    hostile = f"`touch {touched}`$(touch {touched})"
    common = [f"ENDPOINT={sandbox.aws.url}", f"LAMBDA_ENDPOINT={endpoint.url}"]
    for command in (["refused", f"SOURCE={hostile}"], ["replay-refused", f"ID={hostile}", "DRY_RUN=1"]):
        done = subprocess.run(
            [make, "--no-print-directory", *command, *common], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert not touched.exists()
        assert "no kept refusal" in done.stdout
    done = subprocess.run(
        [make, "--no-print-directory", "refused", "SOURCE=zapier", *common],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "1 kept refusal(s)" in done.stdout
    _no_phone_in(done.stdout + done.stderr)


def _ids(sandbox: Sandbox) -> list[str]:
    return [name.rpartition("/")[2] for name in sandbox.aws.kept_refusals()]


def _invoke(endpoint: LocalEndpoint, event: dict[str, Any]) -> dict[str, Any]:
    status, _headers, payload = endpoint.invoke_function(FORWARDER_FUNCTION, json.dumps(event).encode())
    assert status == 200
    answer: dict[str, Any] = json.loads(payload)
    return answer
