"""Delivery ids as keyed and as logged (docs/security.md and docs/guarantees.md, "No phone in a log line"):
keyed as sent or hashed when long, unprintable or phone-like; logged as sent only when they cannot carry
a phone, else as an HMAC under the deployment's key, never as a plain hash."""

from __future__ import annotations

import hashlib

import pytest

from owner_webhook.delivery_ids import loggable, normalized, phone_ref
from tests import numbering

KEPT = [
    "evt-1",
    "tok_1",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479",  # Tally's UUIDs
    "6490c1e5b3c8f2d9a0e1f234",
    "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "signup-2024-11",  # six digits
    "order 123456",
    "x" * 128,
]
HASHED = [
    "+905551234567",
    "905551234567",
    "0555 123 45 67",
    "(555) 123-45-67",
    "signup-+44 7911 123456-v2",
    "tel:+1-201-555-0123",
    "+٩٠٥٥٥١٢٣٤٥٦٧",  # Arabic-Indic digits, which the phone parser reads too
    "０５５５１２３４５６７",  # full-width
    "0555\u2013123\u201345\u201367",  # en dashes, which the phone parser reads as separators
    "⁰⁵⁵⁵¹²³⁴⁵⁶⁷",  # superscript digits (NFKC makes them digits)
    "0555\u200b1234567",  # a zero-width space inside
    "6084250982513018472",  # Jotform's numeric submission ids: hashed too (they could be phones)
    "2024-11-27",  # a date: seven digits and separators
    "x" * 129,
    "line\nbreak",
    "\ud800",
]


@pytest.mark.parametrize("delivery_id", KEPT)
def test_ids_without_phone_like_digits_are_keyed_as_sent(delivery_id: str) -> None:
    assert normalized(delivery_id) == delivery_id


@pytest.mark.parametrize("delivery_id", HASHED)
def test_long_unprintable_or_phone_like_ids_are_keyed_hashed(delivery_id: str) -> None:
    hashed = normalized(delivery_id)
    assert hashed.startswith("sha256:") and len(hashed) == 71
    assert normalized(delivery_id) == hashed  # the same id, the same key: it still deduplicates
    assert normalized(hashed) == hashed  # and the forwarder may bound it again


@pytest.mark.parametrize(("where", "e164"), numbering.EXAMPLES, ids=[where for where, _ in numbering.EXAMPLES])
def test_every_regions_numbers_inside_an_id_are_hashed(where: str, e164: str) -> None:
    for text in numbering.written(e164):
        if sum(ch.isdigit() for ch in text) >= 7:  # with the country code, and national numbers of 7+ digits
            assert normalized(f"zap-{text}-1").startswith("sha256:"), text
    if not where.endswith(" uan"):  # only service numbers (Iran's 9601) are shorter than 7 with the code
        assert len(e164) - 1 >= 7


KEY = b"k" * 32
PHONE = "+905321234567"
# The phone as a sender may write it into an id: every separator, encodings, letters between the digit
# groups, other scripts' digits, prefixes and suffixes.
SEPARATORS = ["_", ",", ":", "+", ".", "-", "/", " ", "%20", "a", "x", "\u00a0", "\u2013", ""]
GROUPS = ["90", "532", "123", "45", "67"]
SPELLINGS = sorted(
    {f"+{sep.join(GROUPS)}" for sep in SEPARATORS}
    | {sep.join(GROUPS) for sep in SEPARATORS}
    | {f"{prefix}{sep.join(GROUPS)}" for prefix in ("tel:", "tel:+", "00", "0", "id-", "%2B") for sep in SEPARATORS}
    | {"+90 (532) 123 45 67", "0532 123 4567", "signup-905321234567-v2", "532.123.45.67", "５３２１２３４５６７"}
    | {"+٩٠٥٣٢١٢٣٤٥٦٧", "۰۵۳۲۱۲۳۴۵۶۷", "⁰⁵³²¹²³⁴⁵⁶⁷", "0532\u200b1234567", "𝟎𝟓𝟑𝟐𝟏𝟐𝟑𝟒𝟓𝟔𝟕"}
)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_phone_in_an_id_is_never_logged_nor_its_plain_hash(spelling: str) -> None:
    for delivery_id in (spelling, normalized(spelling)):  # as sent, and as keyed and queued
        logged = loggable(delivery_id, KEY)
        assert logged.startswith("hmac:") and logged == loggable(delivery_id, KEY)
        assert not any(ch.isdigit() for ch in logged)  # nothing left of any number
        assert hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest() not in logged
        assert loggable(logged, KEY) == logged  # a logged id is loggable as it is
    assert loggable(spelling, b"another key of thirty-two bytes!") != loggable(spelling, KEY)  # keyed


@pytest.mark.parametrize("delivery_id", ["evt-1", "tok_1", "msg_p5jXN8AQM9LWM0D4loKWxJek", "order 123456", "x" * 128])
def test_an_id_with_at_most_six_digits_is_logged_as_sent(delivery_id: str) -> None:
    assert loggable(delivery_id, KEY) == delivery_id


@pytest.mark.parametrize(
    "delivery_id",
    ["f47ac10b-58cc-4372-a567-0e02b2c3d479", "6084250982513018472", "signup-2024-11-27", "x" * 129, "line\nbreak"],
)
def test_ids_that_could_carry_a_phone_or_a_line_break_are_logged_keyed(delivery_id: str) -> None:
    assert loggable(delivery_id, KEY).startswith("hmac:")


def test_a_phone_is_logged_as_a_reference_only_its_key_can_make() -> None:
    reference = phone_ref("+905551234567", KEY)
    assert reference.startswith("ref:") and len(reference) == 20
    assert not any(ch.isdigit() for ch in reference)
    assert reference == phone_ref("+905551234567", KEY) != phone_ref("+905551234568", KEY)
    assert phone_ref("+905551234567", b"another key of thirty-two bytes!") != reference
