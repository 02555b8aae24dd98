"""Delivery ids as logged and keyed: as sent, or hashed when long, unprintable or holding a phone."""

from __future__ import annotations

import pytest

from owner_webhook.delivery_ids import bounded
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
def test_ids_without_phone_like_digits_are_kept(delivery_id: str) -> None:
    assert bounded(delivery_id) == delivery_id


@pytest.mark.parametrize("delivery_id", HASHED)
def test_long_unprintable_or_phone_like_ids_are_hashed(delivery_id: str) -> None:
    hashed = bounded(delivery_id)
    assert hashed.startswith("sha256:") and len(hashed) == 71
    assert bounded(delivery_id) == hashed  # the same id, the same key: it still deduplicates
    assert bounded(hashed) == hashed  # and the worker may bound it again


@pytest.mark.parametrize(("where", "e164"), numbering.EXAMPLES, ids=[where for where, _ in numbering.EXAMPLES])
def test_every_regions_numbers_inside_an_id_are_hashed(where: str, e164: str) -> None:
    for text in numbering.written(e164):
        if sum(ch.isdigit() for ch in text) >= 7:  # with the country code, and national numbers of 7+ digits
            assert bounded(f"zap-{text}-1").startswith("sha256:"), text
    if not where.endswith(" uan"):  # only service numbers (Iran's 9601) are shorter than 7 with the code
        assert len(e164) - 1 >= 7
