"""`make check-recipe` says what a recipe reads from a payload, without sending it: the event filter's verdict,
each phone place tried, the phone (masked) and where it came from, its region and where that came from, the
delivery id's place and the answer; an invalid recipe is an error naming its field.

The promise: docs/senders.md ("Wire a sender locally").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import check_recipe, payloads
from tools.stack import ToolError

CUSTOMER = {
    "id": 1,
    "phone": None,
    "default_address": {"phone": "555-555-5555", "country_code": "CA"},  # Shopify's sample: no number in Canada
    "addresses": [{"phone": "+1 613-555-0123", "country_code": "CA"}, {"phone": "0555 123 45 67"}],
}


def _rows(name: str, body: bytes, headers: dict[str, str], folder: Path | None = None) -> tuple[dict[str, str], str]:
    source = payloads.recipe_source(name, folder or payloads.recipes_folder(None))
    headers = payloads.with_content_type(body, headers, source)
    rows, result = check_recipe.report(source, body, headers, "TR")
    found: dict[str, str] = {}
    for what, text in rows:
        found[what] = f"{found[what]}\n{text}" if what in found else text
    return found, f"{result.status} {result.to_lambda()['body']}"


def test_the_phone_its_place_its_region_and_where_each_came_from() -> None:
    rows, answer = _rows("shopify", json.dumps(CUSTOMER).encode(), {"X-Shopify-Webhook-Id": "w-1"})
    assert rows["tried"].splitlines() == [  # in order, until the first valid number
        "default_address.phone: not a valid number in CA (10 digits)",
        "addresses[].phone: +1613*****23",
    ]
    assert rows["phone"] == "+1613*****23, from addresses[].phone"
    assert rows["region"] == "CA, from default_address.country_code"
    assert rows["delivery id"] == "from header x-shopify-webhook-id"
    assert rows["event"].startswith("header x-shopify-topic names none: taken")
    assert answer == '200 {"success":true}'
    assert "613" not in "".join(rows.values()).replace("+1613*****23", "")  # masked wherever it is said


def test_an_event_the_filter_leaves_out_and_a_missing_phone() -> None:
    rows, answer = _rows("shopify", json.dumps(CUSTOMER).encode(), {"X-Shopify-Topic": "orders/create"})
    assert rows["event"] == "header x-shopify-topic = orders/create: ignored (the filter takes customers/create)"
    assert answer == '200 {"success":true,"ignored":true}' and "phone" not in rows
    rows, answer = _rows("zapier", b'{"name": "Ayse"}', {})
    assert rows["phone places"] == "none holds a value (looked at ~)"
    assert answer.startswith('422 {"success":false,"error":{"code":"missing_phone"')  # zapier reads the answer
    _, answer = _rows("typeform", b'{"event_type": "form_response", "form_response": {}}', {})
    assert answer.startswith('200 {"success":false,"error":{"code":"missing_phone"')  # a form tool: acknowledged


def test_the_region_of_the_deployment_when_the_payload_states_none_and_the_body_digest_as_id() -> None:
    rows, _ = _rows("zapier", b"phone=0555+123+45+67", {})
    assert rows["body"] == "application/x-www-form-urlencoded, read"
    assert rows["region"] == "TR, the default (DEFAULT_PHONE_REGION): the payload states none"
    assert rows["delivery id"] == "the SHA-256 of the body (no place of it holds one)"


def test_a_ping_and_a_body_it_cannot_read() -> None:
    rows, answer = _rows("woocommerce", b"webhook_id=12", {})
    assert "ping" in rows and answer == '200 {"success":true,"ignored":true}'
    rows, answer = _rows("shopify", b"{not json", {"content-type": "application/json"})
    assert rows["body"] == "application/json: the body is not valid JSON" and answer.startswith("400 ")


@pytest.mark.parametrize(
    ("recipe", "field"),
    [
        ({"credential": {"token": "bearer"}, "phone": ["attendees[0"], "retries": True}, "phone"),
        ({"credential": {"token": "bearer"}, "phone": ["phone"]}, "retries"),
        (
            {"credential": {"signature": "header:X", "hmac": "md5"}, "phone": ["phone"], "retries": True},
            "credential.hmac",
        ),
        ({"credential": {"token": "bearer"}, "phone": ["phone"], "retries": True, "events": {"place": "t"}}, "events"),
    ],
)
def test_an_invalid_recipe_is_an_error_naming_its_field(tmp_path: Path, recipe: dict[str, object], field: str) -> None:
    (tmp_path / "mine.json").write_text(json.dumps(recipe))
    with pytest.raises(ToolError) as error:
        payloads.recipe_source("mine", tmp_path)
    assert f"the recipe mine ({tmp_path / 'mine.json'}) is invalid: {field}: " in str(error.value)


def test_an_unknown_route_names_the_routes(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no route is named 'cal-com': the routes are typeform, tally"):
        payloads.recipe_source("cal-com", tmp_path)


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        ('{"X-Shopify-Topic": "orders/create", "X-Other": 2}', {"x-shopify-topic": "orders/create", "x-other": "2"}),
        ("X-Shopify-Topic: orders/create\n\nX-Other:  2 \n", {"x-shopify-topic": "orders/create", "x-other": "2"}),
    ],
)
def test_a_headers_file_is_json_or_name_value_lines(tmp_path: Path, text: str, headers: dict[str, str]) -> None:
    (tmp_path / "headers").write_text(text)
    assert payloads.headers_of(str(tmp_path / "headers")) == headers
    (tmp_path / "bad").write_text("no colon here\n")
    with pytest.raises(ToolError, match="line 1: write `Name: value`"):
        payloads.headers_of(str(tmp_path / "bad"))


def test_what_the_function_refuses_or_ignores_before_reading_the_body() -> None:
    """Over MAX_BODY_BYTES: 413, as the function answers; another event named in a header, in a format the
    route does not read: ignored, as the function answers (the body is not read)."""
    source = payloads.recipe_source("zapier", payloads.recipes_folder(None))
    rows, result = check_recipe.report(source, b'{"phone": "0555 123 45 67"}' + b" " * 300_000, {}, "TR")
    assert (result.status, result.code) == (413, "payload_too_large") and "over MAX_BODY_BYTES" in rows[-1][1]
    xml = b"<order><phone>0555 123 45 67</phone></order>"
    rows_found, answer = _rows("shopify", xml, {"content-type": "application/xml", "X-Shopify-Topic": "orders/create"})
    assert answer == '200 {"success":true,"ignored":true}' and rows_found["event"].endswith(
        "(the filter takes customers/create)"
    )


@pytest.mark.parametrize("event", [None, "", "   ", True, ["customer.created"], {"name": "customer.created"}])
def test_a_place_that_holds_no_event_name_is_said_to_be_ignored(event: object) -> None:
    rows, answer = _rows(
        "stripe", json.dumps({"type": event, "data": {"object": {"phone": "05551234567"}}}).encode(), {}
    )
    assert answer == '200 {"success":true,"ignored":true}'
    assert rows["event"] == "type holds no event name: ignored (the filter takes customer.created)"


def test_typeform_phone_ref_is_read_as_the_function_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [
        {"type": "phone_number", "phone_number": "+905551234567", "field": {"ref": "office"}},
        {"type": "phone_number", "phone_number": "12", "field": {"ref": "mobile"}},
    ]
    body = json.dumps({"event_type": "form_response", "form_response": {"answers": answers}}).encode()
    _, answer = _rows("typeform", body, {})
    assert answer == '200 {"success":true}'  # the first phone answer
    monkeypatch.setenv("TYPEFORM_PHONE_REF", "mobile")
    _, answer = _rows("typeform", body, {})
    assert answer.startswith('200 {"success":false,"error":{"code":"invalid_phone"')
