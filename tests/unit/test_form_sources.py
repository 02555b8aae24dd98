"""Where each form tool puts the phone, and its delivery id."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from owner_webhook.errors import MalformedBodyError, UnsupportedMediaTypeError
from owner_webhook.request import WebhookRequest
from owner_webhook.sources import registry
from tests.conftest import first

SOURCES = registry()


def _phone_answer(value: Any, ref: str = "phone") -> dict[str, Any]:
    return {
        "type": "phone_number",
        "phone_number": value,
        "field": {"id": "F" + ref, "type": "phone_number", "ref": ref},
    }


TEXT = {"type": "text", "text": "Ayşe", "field": {"id": "N", "type": "short_text", "ref": "name"}}


@pytest.mark.parametrize(
    ("answers", "phone"),
    [
        ([_phone_answer("+905551234567")], "+905551234567"),
        ([TEXT, _phone_answer("+905551234567")], "+905551234567"),  # any order
        ([_phone_answer("+905551234567"), TEXT], "+905551234567"),
        ([_phone_answer("+1"), _phone_answer("+2", ref="emergency")], "+1"),  # the first phone answer
        ([TEXT], None),  # only answered questions appear
        ([], None),
        ([{"type": "phone_number"}], None),
    ],
)
def test_typeform_phone_answer(answers: list[dict[str, Any]], phone: str | None) -> None:
    assert first(SOURCES["typeform"].phones({"form_response": {"answers": answers}})) == phone


def test_typeform_phone_chosen_by_field_ref() -> None:
    answers = {"form_response": {"answers": [_phone_answer("+2", ref="emergency"), _phone_answer("+1", ref="mobile")]}}
    assert first(registry("mobile")["typeform"].phones(answers)) == "+1"
    assert first(registry("emergency")["typeform"].phones(answers)) == "+2"
    # The configured question unanswered: no phone, rather than another person's number.
    assert first(registry("work")["typeform"].phones(answers)) is None
    assert first(registry("mobile")["typeform"].phones(answers)) == "+1"


@pytest.mark.parametrize("payload", [{}, {"form_response": None}, {"form_response": {"answers": "x"}}])
def test_typeform_odd_payloads_have_no_phone(payload: dict[str, Any]) -> None:
    assert first(SOURCES["typeform"].phones(payload)) is None


def _tally(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"eventId": "evt-1", "data": {"fields": list(fields)}}


@pytest.mark.parametrize(
    ("payload", "phone"),
    [
        (_tally({"type": "INPUT_PHONE_NUMBER", "value": "+905551234567"}), "+905551234567"),
        (_tally({"type": "INPUT_TEXT", "value": "x"}, {"type": "INPUT_PHONE_NUMBER", "value": "+1"}), "+1"),
        (_tally({"type": "INPUT_PHONE_NUMBER", "value": None}, {"type": "INPUT_PHONE_NUMBER", "value": "+2"}), "+2"),
        (_tally({"type": "INPUT_PHONE_NUMBER", "value": None}), None),
        (_tally({"type": "INPUT_TEXT", "label": "Phone", "value": "+1"}), None),  # typed, not labelled
        ({"data": {}}, None),
    ],
)
def test_tally_first_non_empty_phone_field(payload: dict[str, Any], phone: str | None) -> None:
    assert first(SOURCES["tally"].phones(payload)) == phone


@pytest.mark.parametrize(
    ("data", "phone"),
    [
        ({"Name": "x", "Phone Number": 15550000000}, "15550000000"),  # a number, as in Webflow's docs
        ({"Telefon": "0555 123 45 67"}, "0555 123 45 67"),
        ({"Mobile phone": "+44 7911 123456"}, "+44 7911 123456"),
        ({"Name": "x"}, None),
    ],
)
def test_webflow_phone_by_label(data: dict[str, Any], phone: str | None) -> None:
    assert first(SOURCES["webflow"].phones({"payload": {"data": data, "id": "sub1"}})) == phone


RAW = {"slug": "submit/1", "q3_fullName": {"first": "A", "last": "Y"}, "event_id": "1_2_3", "path": "/submit"}


@pytest.mark.parametrize(
    ("answers", "phone"),
    [
        ({"q4_phoneNumber": {"full": "(555) 123-4567"}}, "(555) 123-4567"),
        ({"q4_phoneNumber": {"area": "937", "phone": "327-7354"}}, "937 327-7354"),
        ({"q5_phone": "0555 123 45 67"}, "0555 123 45 67"),
        ({"q6_mobilePhone": {"full": ""}, "q7_phone": "0555"}, "0555"),
        ({"phoneNumber": "0555"}, None),  # not an answer key (no q<N>_)
        ({}, None),
    ],
)
def test_jotform_phone_widgets(answers: dict[str, Any], phone: str | None) -> None:
    assert first(SOURCES["jotform"].phones({"rawRequest": {**RAW, **answers}})) == phone


def _multipart(fields: dict[str, str], boundary: str = "b0undary") -> WebhookRequest:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    body += f"--{boundary}--\r\n".encode()
    return WebhookRequest(body, {"content-type": f"multipart/form-data; boundary={boundary}"}, {})


def test_jotform_reads_multipart_and_forms() -> None:
    fields = {"submissionID": "6084250982513018472", "rawRequest": json.dumps({"q4_phone": {"full": "0555 123 45 67"}})}
    jotform = SOURCES["jotform"]
    for request in (
        _multipart(fields),
        WebhookRequest(urlencode(fields).encode(), {"content-type": "application/x-www-form-urlencoded"}, {}),
    ):
        payload = jotform.read(request)
        assert first(jotform.phones(payload)) == "0555 123 45 67"
        assert jotform.delivery_id(request, payload) == "6084250982513018472"


def test_jotform_without_raw_request_has_no_phone() -> None:
    payload = SOURCES["jotform"].read(_multipart({"submissionID": "1"}))
    assert first(SOURCES["jotform"].phones(payload)) is None


@pytest.mark.parametrize("raw", ["{not json", "[1]"])
def test_jotform_raw_request_must_be_a_json_object(raw: str) -> None:
    with pytest.raises(MalformedBodyError):
        SOURCES["jotform"].read(_multipart({"rawRequest": raw}))


def test_jotform_refuses_json_and_form_tools_refuse_forms() -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        SOURCES["jotform"].read(WebhookRequest(b"{}", {"content-type": "application/json"}, {}))
    for name in ("typeform", "tally", "webflow"):
        with pytest.raises(UnsupportedMediaTypeError):
            SOURCES[name].read(WebhookRequest(b"a=1", {"content-type": "application/x-www-form-urlencoded"}, {}))


def test_form_tool_delivery_ids() -> None:
    request = WebhookRequest(b"{}", {}, {})
    assert SOURCES["typeform"].delivery_id(request, {"form_response": {"token": "tok_1"}}) == "tok_1"
    assert SOURCES["tally"].delivery_id(request, {"eventId": "evt-1"}) == "evt-1"
    assert SOURCES["webflow"].delivery_id(request, {"payload": {"id": "sub1"}}) == "sub1"
    # Without an id, the body's digest: a retry of the same body is the same delivery.
    for name in ("typeform", "tally", "webflow", "jotform"):
        assert SOURCES[name].delivery_id(request, {}) == request.body_digest


def test_only_the_automation_tools_are_answered_422() -> None:
    assert {name for name, source in SOURCES.items() if not source.acknowledges_refusals} == {"zapier", "generic"}
