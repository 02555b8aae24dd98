"""Event filters: a delivery of another event is answered 200 ignored, counted, and never forwarded, queued or
remembered; the filter runs after authentication; a dry run says so.

The promise: docs/senders.md ("Recipes", events) and docs/answers.md (`ignored`).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox import queue, senders
from sandbox.events import HttpRequest, http_api_event
from sandbox.gateway import Fault
from sandbox.local_secrets import webhook_secret
from sandbox.stack import Sandbox
from tests.conftest import ROOT
from tests.integration.conftest import invoke_event

PHONE = "0555 123 45 67"
# Where each filtered preset's sender names its event, and another event it sends that carries a phone too.
OTHER_EVENT = {
    "typeform": ("event_type", "form_response_partial"),
    "webflow": ("triggerType", "ecomm_new_order"),
    "shopify": ("header:x-shopify-topic", "orders/create"),
    "woocommerce": ("header:x-wc-webhook-topic", "order.created"),
    "stripe": ("type", "customer.updated"),
    "calendly": ("event", "invitee.canceled"),
    "formbricks": ("event", "responseCreated"),
}
IGNORED = {"success": True, "ignored": True}


def _event(source: str, event: Any, query: str = "", secret: str | None = None) -> dict[str, Any]:
    """The sender's own delivery with a phone, naming `event` where the sender names it."""
    place = OTHER_EVENT[source][0]
    body, headers = senders.payload(source, PHONE, uuid.uuid4().hex)
    if place.startswith("header:"):
        headers[place.removeprefix("header:")] = event
    else:
        document = json.loads(body)
        document[place] = event
        body = json.dumps(document).encode()
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers, query)
    return http_api_event(senders.sign(source, unsigned, secret or senders.local_secret(source)))


def nothing_happened(sandbox: Sandbox) -> None:
    assert sandbox.gateway.received == []
    assert queue.depth(sandbox.aws, sandbox.queue_url) == 0
    assert sandbox.aws.table_items() == []


@pytest.mark.parametrize("source", sorted(OTHER_EVENT))
def test_another_event_is_answered_200_ignored_counted_and_forwarded_nowhere(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    monkeypatch.setenv("RETRY_QUEUE_URL", sandbox.queue_url)
    sandbox.gateway.inject(Fault(status=503))  # were it forwarded, it would be queued
    answer = invoke_event(_event(source, OTHER_EVENT[source][1]))
    assert (answer.status, answer.body) == (200, IGNORED)
    nothing_happened(sandbox)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [(r["source"], r["Ignored"]) for r in records if "Ignored" in r] == [(source, [1.0])]


@pytest.mark.parametrize("source", sorted(OTHER_EVENT))
def test_the_event_taken_is_forwarded(sandbox: Sandbox, source: str) -> None:
    answer = invoke_event(http_api_event(senders.request(source, PHONE)))
    assert (answer.status, answer.body) == (200, {"success": True})


@pytest.mark.parametrize("event", [["customer.created"], {"name": "customer.created"}, True, None, "", "   ", 0, 123])
def test_a_place_that_holds_anything_but_an_accepted_name_is_ignored(sandbox: Sandbox, event: Any) -> None:
    """Only a delivery without the place at all is taken as if unfiltered: a list, an object, null, nothing or a
    number there is not the event the recipe takes."""
    answer = invoke_event(_event("stripe", event))
    assert (answer.status, answer.body) == (200, IGNORED)
    nothing_happened(sandbox)


def test_a_delivery_without_the_place_is_taken(sandbox: Sandbox) -> None:
    body, headers = senders.payload("stripe", PHONE, uuid.uuid4().hex)
    document = json.loads(body)
    del document["type"]
    unsigned = HttpRequest("POST", "/webhooks/stripe", json.dumps(document).encode(), headers, "")
    answer = invoke_event(http_api_event(senders.sign("stripe", unsigned, senders.local_secret("stripe"))))
    assert (answer.status, answer.body) == (200, {"success": True})
    assert [r.phone for r in sandbox.gateway.received] == ["+905551234567"]


def test_the_filter_runs_after_authentication(sandbox: Sandbox) -> None:
    answer = invoke_event(_event("shopify", "orders/create", secret="not-the-shop-secret"))
    assert (answer.status, answer.code) == (401, "unauthenticated")


def test_a_dry_run_says_it_would_be_ignored(sandbox: Sandbox) -> None:
    answer = invoke_event(_event("stripe", "customer.updated", query="dry_run=1"))
    assert (answer.status, answer.body) == (
        200,
        {"success": True, "dry_run": True, "outcome": "ignored", "phone": None, "phone_known": False},
    )
    nothing_happened(sandbox)


def test_an_ignored_delivery_is_logged_without_its_phone(sandbox: Sandbox, logs: Any) -> None:
    invoke_event(_event("calendly", "invitee.canceled"))
    [line] = logs()
    assert (line["outcome"], line["status"], line["source"]) == ("ignored", 200, "calendly")
    assert "phone" not in line


# docs/senders.md's Cal.com recipe, as written there: the first attendee's phone, BOOKING_CREATED only
# (Cal.com's test button sends triggerEvent PING).
_DOC = (ROOT / "docs" / "senders.md").read_text()
_SECTION = _DOC[_DOC.index("### Events and indexes: a Cal.com recipe") :]
CAL_COM = json.loads(_SECTION[_SECTION.index("```json\n") + 8 : _SECTION.index("```\n", _SECTION.index("```json"))])


@pytest.mark.parametrize(
    ("trigger", "attendees", "answer"),
    [
        ("BOOKING_CREATED", [{"phoneNumber": PHONE}, {"phoneNumber": "0555 765 43 21"}], {"success": True}),
        ("BOOKING_CREATED", [], {"success": False, "error": {"code": "missing_phone", "message": "x"}}),
        ("BOOKING_CANCELLED", [{"phoneNumber": PHONE}], IGNORED),
        ("BOOKING_RESCHEDULED", [{"phoneNumber": PHONE}], IGNORED),
        ("PING", [], IGNORED),
    ],
)
def test_a_recipe_of_ones_own_filters_and_indexes(
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    trigger: str,
    attendees: list[dict[str, str]],
    answer: dict[str, Any],
) -> None:
    import hashlib
    import hmac

    from owner_webhook import sources
    from sandbox.aws import LOCAL_SECRET

    assert re.search(r"`src/owner_webhook/recipes/cal-com\.json`", _SECTION)
    (tmp_path / "cal-com.json").write_text(json.dumps(CAL_COM))
    monkeypatch.setattr(sources, "RECIPES", tmp_path)
    secret = webhook_secret("cal-com")
    sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "cal-com": secret}})
    body = json.dumps({"triggerEvent": trigger, "payload": {"uid": "bk-1", "attendees": attendees}}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-cal-signature-256": signature}
    got = invoke_event(http_api_event(HttpRequest("POST", "/webhooks/cal-com", body, headers)))
    if "error" in answer:
        assert (got.status, got.code) == (200, answer["error"]["code"])
    else:
        assert (got.status, got.body) == (200, answer)
    assert sandbox.gateway.owners == (["+905551234567"] if answer == {"success": True} else [])


def test_a_hubspot_app_subscriptions_list_is_no_workflow_webhook(sandbox: Sandbox) -> None:
    # docs/senders.md, HubSpot: a list of ids without the phone, not an event to filter.
    body = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 151}]).encode()
    headers = {"content-type": "application/json", "host": "hooks.example.com"}
    unsigned = HttpRequest("POST", "/webhooks/hubspot", body, headers)
    answer = invoke_event(http_api_event(senders.sign("hubspot", unsigned, senders.local_secret("hubspot"))))
    assert (answer.status, answer.code) == (400, "malformed_body")
    assert sandbox.gateway.received == []


@pytest.mark.parametrize(
    ("source", "topic", "content_type", "body"),
    [
        ("shopify", "orders/create", "application/xml", b"<order><phone>0555 123 45 67</phone></order>"),
        ("shopify", "orders/create", "application/json", b'{"phone": "0555 123 45 67", '),  # cut short
        ("woocommerce", "order.created", "text/xml", b"<order><phone>0555 123 45 67</phone></order>"),
    ],
)
def test_another_event_in_a_format_the_route_does_not_read_is_ignored_not_refused_nor_kept(
    sandbox: Sandbox, source: str, topic: str, content_type: str, body: bytes
) -> None:
    """The event is named in a header: the body is not read for it (Shopify can send XML), so the sender gets
    200 ignored, not a 4xx it counts as a failure, and nothing is kept to be replayed."""
    header = OTHER_EVENT[source][0].removeprefix("header:")
    headers = {"content-type": content_type, header: topic}
    if source == "shopify":
        headers["x-shopify-webhook-id"] = uuid.uuid4().hex
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers, "")
    answer = invoke_event(http_api_event(senders.sign(source, unsigned, senders.local_secret(source))))
    assert (answer.status, answer.body) == (200, IGNORED)
    nothing_happened(sandbox)
    assert sandbox.aws.kept_refusals() == {}
