"""A field named like a phone is one whose words name it, and when the first field so named holds no phone the
next is tried: a form tool's signup is never refused (200, never sent again) for a "Cancellation policy".

The promise: docs/senders.md (where each sender's phone is; "Recipes").
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from sandbox import senders
from sandbox.events import HttpRequest, http_api_event
from sandbox.stack import Sandbox
from tests.integration.conftest import invoke_event

PHONE = "0555 123 45 67"


def _signed(source: str, body: bytes, content_type: str = "application/json") -> HttpRequest:
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, {"content-type": content_type})
    return senders.sign(source, unsigned, senders.local_secret(source))


def _webflow(data: dict[str, Any]) -> HttpRequest:
    payload = {"triggerType": "form_submission", "payload": {"id": "sub-1", "data": data}}
    return _signed("webflow", json.dumps(payload).encode())


def _zapier(fields: dict[str, Any]) -> HttpRequest:
    return _signed("zapier", json.dumps(fields).encode())


def _jotform(answers: dict[str, Any]) -> HttpRequest:
    form = {"submissionID": "6084250982513018472", "formID": "1", "rawRequest": json.dumps(answers)}
    return _signed("jotform", urlencode(form).encode(), "application/x-www-form-urlencoded")


def _calendly(questions: list[dict[str, str]]) -> HttpRequest:
    payload = {
        "event": "invitee.created",
        "payload": {"uri": "https://api.calendly.com/x/invitees/1", "questions_and_answers": questions},
    }
    return _signed("calendly", json.dumps(payload).encode())


# The adversary's fields, each before the phone: a word that holds a phone's letters, or a field named like a
# phone that holds something else. Signed as the test runs: a signature's timestamp is good for 300 s.
CASES = {
    "webflow, Cancellation policy": lambda: _webflow({"Cancellation policy": "I agree", "Phone": PHONE}),
    "webflow, Miscellaneous": lambda: _webflow({"Miscellaneous notes": "call after 5", "Phone Number": PHONE}),
    "webflow, Automobile": lambda: _webflow({"Automobile": "Ford Focus", "Mobile": PHONE}),
    "webflow, a phone's type first": lambda: _webflow({"Phone type": "mobile", "Phone number": PHONE}),
    "zapier, Cancellation policy": lambda: _zapier({"cancellation_policy": "accepted", "phone": PHONE}),
    "zapier, a phone's type first": lambda: _zapier({"phoneType": "mobile", "phoneNumber": PHONE}),
    "jotform, a phone's type first": lambda: _jotform({"q3_phoneType": "mobile", "q4_phoneNumber": {"full": PHONE}}),
    "calendly, Cancellation policy": lambda: _calendly(
        [
            {"question": "Cancellation policy: 24 h notice", "answer": "Understood"},
            {"question": "Your phone number", "answer": PHONE},
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_phone_is_found_past_a_field_that_is_not_one(sandbox: Sandbox, case: str) -> None:
    answer = invoke_event(http_api_event(CASES[case]()))
    assert (answer.status, answer.body) == (200, {"success": True})
    assert sandbox.gateway.owners == ["+905551234567"]


def test_every_field_named_like_a_phone_holding_none_is_still_refused(sandbox: Sandbox) -> None:
    answer = invoke_event(http_api_event(_webflow({"Phone type": "mobile", "Phone number": "call me"})))
    assert (answer.status, answer.body["error"]["code"]) == (200, "invalid_phone")  # the first one's refusal
    answer = invoke_event(http_api_event(_webflow({"Cancellation policy": "I agree"})))
    assert (answer.status, answer.body["error"]["code"]) == (200, "missing_phone")
    assert sandbox.gateway.received == []


def test_the_log_line_names_the_place_the_phone_was_found_at(sandbox: Sandbox, logs: Any) -> None:
    invoke_event(http_api_event(_webflow({"Phone type": "mobile", "Phone number": PHONE})))
    [line] = logs()
    assert (line["outcome"], line["phone_place"]) == ("owner_created", "payload.data.~")
