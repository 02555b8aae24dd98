"""What a kept refusal holds, and what a replay event may carry (docs/security.md, "Kept refusals"): the body as
received and the headers its recipe reads, never a credential; the phone place described, never repeated;
and a replay event checked as strictly as a request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from owner_webhook import outcomes
from owner_webhook.errors import MalformedMessageError
from owner_webhook.refusals import KeptRefusal
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import registry
from owner_webhook.sources.checks import Token
from owner_webhook.sources.recipe import RecipeSource

SOURCES = registry()
# Every header a request could carry: each credential's, each delivery id's, and some no recipe reads.
HEADERS = {"content-type": "application/json", "user-agent": "x", "x-forwarded-for": "203.0.113.9"}


def _credential_headers(source: RecipeSource) -> set[str]:
    names = {"authorization"}
    for credential in source.recipe.credentials:
        check = credential.check
        places = check.places if isinstance(check, Token) else (check.signature, check.timestamp)
        names |= {place.name for place in places if place is not None and place.kind == "header"}
    return names


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_kept_request_holds_the_headers_its_recipe_reads_and_never_a_credential(name: str) -> None:
    source = SOURCES[name]
    assert isinstance(source, RecipeSource)
    credential = _credential_headers(source)
    delivery = {place.name for place in source.recipe.delivery_id if place.kind == "header"}
    headers = {**HEADERS, **dict.fromkeys(credential | delivery, "a-value")}
    request = WebhookRequest(b'{"phone": "call me"}', headers, {"token": "a-query-token"})
    kept = KeptRefusal.received(source, request, outcomes.MISSING_PHONE, None, None)
    assert set(kept.headers) == ({"content-type"} | delivery) - credential
    assert not set(kept.headers) & credential
    assert kept.body is not None and json.loads(kept.body) == json.loads(request.body)  # as received (re-written
    assert "a-query-token" not in kept.to_json()  # only where a credential is taken out); the query is never kept


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("0555 123 45 6", "10 digits, ending 56"),
        ("+90 555", "5 digits"),
        ("Ayşe Yılmaz", "no digits"),  # a name in the phone's place: the recipe's place is wrong
        ("٠٥٥٥ ١٢٣ ٤٥ ٦", "10 digits, ending 56"),  # Arabic-Indic digits, counted as the parser reads them
    ],
)
def test_what_the_phone_place_held_is_described_never_repeated(written: str, shown: str) -> None:
    request = WebhookRequest(json.dumps({"phone": written}).encode(), {"content-type": "application/json"}, {})
    kept = KeptRefusal.received(SOURCES["zapier"], request, outcomes.INVALID_PHONE, None, None)
    assert kept.phone == shown
    assert written not in kept.phone
    assert kept.places == ("~",)


def _document(**changed: Any) -> dict[str, Any]:
    request = WebhookRequest(b'{"name": "x"}', {"content-type": "application/json"}, {})
    kept = KeptRefusal.received(SOURCES["zapier"], request, outcomes.MISSING_PHONE, None, None, delivery_id="d-1")
    document: dict[str, Any] = json.loads(kept.to_json())
    document.update(changed)
    return {key: value for key, value in document.items() if value is not ...}


def test_a_kept_refusal_reads_back_as_it_was_written() -> None:
    document = _document()
    kept = KeptRefusal.from_json(json.dumps(document))
    assert (kept.source, kept.delivery_id, kept.reason, kept.body) == (
        "zapier",
        "d-1",
        "missing_phone",
        b'{"name": "x"}',
    )
    assert json.loads(kept.to_json()) == document


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        [],
        _document(version=2),
        _document(source="../zapier"),
        _document(source=None),
        _document(delivery_id=""),
        _document(delivery_id="x" * 129),
        _document(reason="owner_created"),  # never kept: a replay event cannot claim it
        _document(reason="unauthenticated"),
        _document(body="not base64!"),
        _document(body=None),  # neither a body nor a phone
        _document(body=None, e164="+90 555 123 45 67"),  # a phone, but not as the function writes it
        _document(e164="+905551234567"),  # both
        _document(received_at=float("inf")),
        _document(received_at=10**400),
        _document(received_at=True),
        _document(kept_until=-1),
        _document(headers={"content-type": 1}),
        _document(places="~"),
        _document(message=["x"]),
    ],
    ids=lambda d: str(d)[:40],
)
def test_a_replay_event_is_checked_as_strictly_as_a_request(document: Any) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(MalformedMessageError):
        KeptRefusal.from_json(text)


def test_a_queued_delivery_is_kept_with_its_phone_and_no_body() -> None:
    from owner_webhook.retry_queue import QueuedDelivery

    kept = KeptRefusal.queued(QueuedDelivery("jotform", "6084", "+905551234567", 1.0), outcomes.REJECTED_PHONE, None,
                              "+90555*****67")  # fmt: skip
    again = KeptRefusal.from_json(kept.to_json())
    assert (again.body, again.e164, again.phone, again.request) == (None, "+905551234567", "+90555*****67", None)
    assert json.loads(kept.to_json())["body"] is None
