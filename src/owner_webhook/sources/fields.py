"""What a field's value is as written text, and which field names mean a phone."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple

# A name worth splitting into words: it holds one of the roots below somewhere (checked first, in C).
_MAY_NAME_A_PHONE = re.compile(r"phone|telefon|tel[eé]fon|telephon|gsm|mobil|cell", re.IGNORECASE)
# A word names a phone when it starts with one of these (phoneNumber's "phone", Telefonnummer, telefonu,
# teléfono, GSM, mobile_phone, cellular) or ends with one of the second (cellphone, Festnetztelefon).
_PHONE_STARTS = ("phone", "telefon", "teléfon", "telephon", "gsm", "mobil", "cell")
_PHONE_ENDS = ("phone", "telefon")
# Runs of letters: a name is split at digits, `_`, `-`, spaces and any other punctuation.
_LETTERS = re.compile(r"[^\W\d_]+")
# The words of an ASCII name: GSM|Number, phone|Number, PHONE, phone (then split at anything not a letter).
_ASCII_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


class Found(NamedTuple):
    """A value a phone place holds, as the sender wrote it, and that place as the recipe writes it."""

    text: str
    place: str


def names_a_phone(name: str) -> bool:
    """Whether a field's name (or a question's text) names a phone: one of its words does.

    Words are split at case changes too (phoneNumber, GSMNumber), so "Cancellation", "Miscellaneous" and
    "Automobile" name no phone while "PhoneNumber2", "cep_telefonu" and "Mobile Phone" do.
    """
    if not name.isascii():  # "Teléfono" as one letter or as "e" and a combining accent: the same name
        name = unicodedata.normalize("NFC", name)
    if not _MAY_NAME_A_PHONE.search(name):
        return False
    if name.isalpha() and (name.islower() or name.isupper() or name.istitle()):  # one word: phone, Mobile, GSM
        return _is_phone_word(name.casefold())
    if name.isascii():  # the same words as _words finds, found by C
        return any(_is_phone_word(word.lower()) for word in _ASCII_WORDS.findall(name))
    return any(_is_phone_word(word) for run in _LETTERS.findall(name) for word in _words(run))


def _is_phone_word(word: str) -> bool:
    return word.startswith(_PHONE_STARTS) or word.endswith(_PHONE_ENDS)


def _words(letters: str) -> list[str]:
    """`phoneNumber` -> phone, number; `GSMNumber` -> gsm, number; `PHONE` -> phone; lower case."""
    words, start = [], 0
    for i in range(1, len(letters)):
        before, here = letters[i - 1], letters[i]
        after = letters[i + 1] if i + 1 < len(letters) else ""
        if here.isupper() and (before.islower() or (before.isupper() and after.islower())):
            words.append(letters[start:i].casefold())
            start = i
    words.append(letters[start:].casefold())
    return words


def as_text(value: Any) -> str | None:
    """A field value as written text: strings as they are, whole numbers (Webflow sends some) as digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value
    return None
