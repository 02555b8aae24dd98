"""Phone numbers: from whatever a form sent to E.164, and masked for logs."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from owner_webhook.errors import InvalidPhoneError

# What a phone field may hold: an optional tel: scheme, digits with the usual separators, and an
# optional extension. Anything else ("+90 555 123 45 67; DROP TABLE", "call me on ...") is refused
# rather than mined for a number, because a number guessed out of free text may be someone else's.
_WRITTEN_PHONE = re.compile(
    r"""^(?:tel:)?\s*
        \+?[0-9\s\-./()]{4,40}
        (?:\s*(?:;ext=|ext\.?|x|\#)\s*[0-9]{1,10})?
        \s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MAX_CHARS = 64
# "(+90) 555 ..." as some forms write the country code.
_BRACKETED_COUNTRY_CODE = re.compile(r"^\(\s*\+\s*([0-9]{1,3})\s*\)")
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")


def to_e164(raw: str, region: str) -> str:
    """Normalize a written phone number to E.164; raises InvalidPhoneError if it is not a valid number."""
    text = plain(raw).strip()
    text = _BRACKETED_COUNTRY_CODE.sub(r"+\1 ", text.replace("[", "(").replace("]", ")"))
    if len(text) > _MAX_CHARS or not _WRITTEN_PHONE.match(text):
        raise InvalidPhoneError("the phone field does not hold a phone number")
    number = _parse(text, region)
    if number is None:
        digits = re.sub(r"\D", "", text.split(";")[0])
        # A country code written without "+" (905551234567, 447911123456): phonenumbers reads it as a
        # national number of the default region, so try it once more as an international one. Only for
        # 11+ digits without brackets: shorter ones are national numbers, and "(201) 555-0123" is not +20.
        if not text.lower().startswith(("+", "00", "tel:")) and "(" not in text and len(digits) >= 11:
            number = _parse("+" + digits, None)
    if number is None:
        raise InvalidPhoneError("the phone number is not valid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    """Whether `text` is a valid number written exactly as to_e164 writes it."""
    number = _parse(text, None) if _E164.fullmatch(text) else None
    return number is not None and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == text


def mask(e164: str) -> str:
    """For logs: the country code, then never more than half of the national number's digits, at most its
    first three and last two: +905551234567 -> +90555*****67, +29022158 (St Helena) -> +2902***8."""
    country_code = _country_code(e164)
    if country_code is None:
        return "*" * len(e164)
    national = e164[1 + len(country_code) :]
    shown = min(5, len(national) // 2)
    last = min(2, shown // 2)
    first = shown - last
    return f"+{country_code}{national[:first]}{'*' * (len(national) - shown)}{national[len(national) - last :]}"


def _country_code(e164: str) -> str | None:
    """The country calling code an E.164 number starts with, as phonenumbers finds it (the codes are prefix-free,
    one to three digits), without parsing the number again."""
    for length in (1, 2, 3):
        code = e164[1 : 1 + length]
        if (
            e164[:1] == "+"
            and code.isascii()
            and code.isdigit()
            and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        ):
            return code
    return None


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def plain(text: str) -> str:
    """The text as the phone parser reads it: compatibility forms folded (NFKC), digits of any script and
    dashes as ASCII, invisible format marks dropped."""
    return text if text.isascii() else _ascii(unicodedata.normalize("NFKC", text))


def _ascii(text: str) -> str:
    # Arabic-Indic, Persian and other decimal digits survive NFKC: made ASCII for the grammar check, as
    # are dashes (en dash, non-breaking hyphen); invisible marks a copy and paste brings along (bidi
    # embeddings, zero-width spaces: Unicode's format characters) are dropped.
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isdecimal():
            kept.append(str(unicodedata.decimal(ch)))
        elif category == "Pd":
            kept.append("-")
        elif category != "Cf":
            kept.append(ch)
    return "".join(kept)
