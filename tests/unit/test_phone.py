"""The phone rule in one table: what a form may send, and the E.164 that reaches the gateway.

The promise: docs/guarantees.md, "Phone numbers"; docs/security.md (the mask).
"""

from __future__ import annotations

import pytest

from owner_webhook.errors import InvalidPhoneError
from owner_webhook.phone import is_e164, mask, to_e164
from tests import numbering

VALID = [
    # Turkey, the default region
    ("+905551234567", "TR", "+905551234567"),
    ("+90 555 123 45 67", "TR", "+905551234567"),
    ("+90-555-123-45-67", "TR", "+905551234567"),
    ("05551234567", "TR", "+905551234567"),  # national trunk 0
    ("0 (555) 123 45 67", "TR", "+905551234567"),  # brackets
    ("555 123 45 67", "TR", "+905551234567"),
    ("5551234567", "TR", "+905551234567"),
    ("905551234567", "TR", "+905551234567"),  # country code without +
    ("00905551234567", "TR", "+905551234567"),  # 00 international prefix
    ("0090 555 123 45 67", "TR", "+905551234567"),
    ("tel:+90-555-123-45-67", "TR", "+905551234567"),  # RFC 3966 URI
    ("+90 0555 123 45 67", "TR", "+905551234567"),  # stray trunk 0 after the country code
    ("0555\u00a0123\u00a045\u00a067", "TR", "+905551234567"),  # non-breaking spaces
    ("＋９０ ５５５ １２３ ４５ ６７", "TR", "+905551234567"),  # full-width
    ("٠٥٥٥١٢٣٤٥٦٧", "TR", "+905551234567"),  # Arabic-Indic digits
    ("۰۵۵۵۱۲۳۴۵۶۷", "TR", "+905551234567"),  # Extended Arabic-Indic (Persian) digits
    ("+90 555 123 45 67 ext. 12", "TR", "+905551234567"),  # extension dropped
    ("0212 123 45 67", "TR", "+902121234567"),  # Istanbul fixed line
    ("  05551234567  ", "TR", "+905551234567"),
    ("(+90) 555 123 45 67", "TR", "+905551234567"),  # the country code in brackets
    ("[+90] 555 123 45 67", "TR", "+905551234567"),
    ("\u202a+90 555 123 45 67\u202c", "TR", "+905551234567"),  # bidi marks from a copy and paste
    ("+90 555 123 45 67\u200e", "TR", "+905551234567"),
    ("0555\u200b123\u200b45\u200b67", "TR", "+905551234567"),  # zero-width spaces
    ("0555\u2013123\u201345\u201367", "TR", "+905551234567"),  # en dashes
    ("0555\u2011123\u201145\u201167", "TR", "+905551234567"),  # non-breaking hyphens
    # United States
    ("(201) 555-0123", "US", "+12015550123"),
    ("201.555.0123", "US", "+12015550123"),
    ("+1 201 555 0123", "TR", "+12015550123"),
    ("1-201-555-0123", "US", "+12015550123"),
    ("tel:+1-201-555-0123;ext=1234", "TR", "+12015550123"),
    ("+1 (201) 555-0123 x 99", "TR", "+12015550123"),
    # United Kingdom
    ("07911 123456", "GB", "+447911123456"),
    ("+44 7911 123456", "TR", "+447911123456"),
    ("(+44) 7911 123456", "TR", "+447911123456"),
    ("447911123456", "TR", "+447911123456"),  # country code without +, other region
    ("0044 7911 123456", "GB", "+447911123456"),
    # Germany
    ("0151 23456789", "DE", "+4915123456789"),
    ("+49 30 123456", "TR", "+4930123456"),
    ("030 123456", "DE", "+4930123456"),
    ("004930123456", "DE", "+4930123456"),
]

INVALID = [
    ("+90 555 123 45 67; DROP TABLE", "TR"),  # text that merely contains a number
    ("call me on 0555 123 45 67", "TR"),
    ("0555 123 45 67 or 0555 123 45 68", "TR"),
    ("+90 555 123 4", "TR"),  # too short ("possible" to phonenumbers, not valid)
    ("+90555123456789", "TR"),  # too long
    ("+905551234", "TR"),
    ("12345", "TR"),
    ("", "TR"),
    ("   ", "TR"),
    ("not a phone", "TR"),
    ("+999 555 123 45 67", "TR"),  # no such country code
    ("0090 555 123 45 67", "US"),  # 00 is not the US international prefix
    ("(201) 555-0123", "TR"),  # a US number without country code, read in Turkey
    ("+1 201 555 0123" + "9" * 60, "TR"),
    ("555-0123<script>", "US"),
    ("+90 555 123 45 67\n+90 555 123 45 68", "TR"),
]


@pytest.mark.parametrize(("written", "region", "e164"), VALID)
def test_valid_numbers_become_e164(written: str, region: str, e164: str) -> None:
    assert to_e164(written, region) == e164


@pytest.mark.parametrize(("written", "region"), INVALID)
def test_invalid_numbers_are_refused(written: str, region: str) -> None:
    with pytest.raises(InvalidPhoneError) as refused:
        to_e164(written, region)
    assert refused.value.code == "invalid_phone"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+905551234567", "+90555*****67"),
        ("+12015550123", "+1201*****23"),
        ("+4930123456", "+4930****56"),
        ("+29022158", "+2902***8"),  # St Helena: five digits, two shown
        ("+6837012", "+6837**2"),  # Niue: four digits
        ("not a number", "************"),
    ],
)
def test_mask_keeps_the_country_code_and_at_most_half_of_the_national_number(e164: str, masked: str) -> None:
    assert mask(e164) == masked


@pytest.mark.parametrize(("where", "e164"), numbering.EXAMPLES, ids=[where for where, _ in numbering.EXAMPLES])
def test_mask_for_every_numbering_plan(where: str, e164: str) -> None:
    numbering.check_mask(e164, mask(e164))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("+905551234567", True),
        ("+12015550123", True),
        ("+90555", False),  # too short to be valid
        ("905551234567", False),  # no +
        ("+90 555 123 45 67", False),  # not written as E.164
        ("+905551234567 ", False),
        ("+٩٠٥٥٥١٢٣٤٥٦٧", False),
        ("+0905551234567", False),
        ("", False),
    ],
)
def test_is_e164_takes_only_what_to_e164_writes(text: str, ok: bool) -> None:
    assert is_e164(text) is ok
