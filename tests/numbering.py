"""Every numbering plan phonenumbers knows, by its metadata's example numbers: for the mask and log tests."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

_TYPES = {
    name: value
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and name not in ("UNKNOWN", "FIXED_LINE_OR_MOBILE")
}


def _examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found: list[tuple[str, phonenumbers.PhoneNumber]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for name, kind in _TYPES.items():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((f"{region} {name.lower()}", number))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append((f"+{code} non-geographic", number))
    return found


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


# (where it is from, E.164): every region's example of every number type, and the non-geographic ones.
EXAMPLES = [(where, _e164(number)) for where, number in _examples()]
# One personal number (mobile, else fixed line, else the region's example) per region.
PER_REGION = [
    (region, _e164(number))
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    if (
        number := phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        or phonenumbers.example_number_for_type(region, PhoneNumberType.FIXED_LINE)
        or phonenumbers.example_number(region)
    )
    is not None
]
# The ways a person writes a number into a form (or an id), with its country code or without.
FORMATS = (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)


def written(e164: str) -> list[str]:
    """The number as E.164, international and national text, as a sender might write it."""
    number = phonenumbers.parse(e164)
    return [phonenumbers.format_number(number, form) for form in FORMATS]


def national(e164: str) -> str:
    """The digits after the country code."""
    return e164[1 + len(str(phonenumbers.parse(e164).country_code)) :]


def check_mask(e164: str, masked: str) -> None:
    """The rule of docs/security.md: the country code, then at most half of the national digits, at most the first three
    and the last two, each shown digit where it is in the number."""
    digits = national(e164)
    country = e164[: len(e164) - len(digits)]
    assert masked.startswith(country) and len(masked) == len(e164), (e164, masked)
    rest = masked[len(country) :]
    head = len(rest) - len(rest.lstrip("0123456789"))
    tail = len(rest) - len(rest.rstrip("0123456789"))
    assert set(rest[head : len(rest) - tail]) <= {"*"}, (e164, masked)
    assert head <= 3 and tail <= 2 and 2 * (head + tail) <= len(digits), (e164, masked)
    assert rest[:head] == digits[:head] and rest[len(rest) - tail :] == digits[len(digits) - tail :]
