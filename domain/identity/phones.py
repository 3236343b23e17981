"""Phone numbers become identity keys only when they are a real, complete mobile number."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

_MASK = re.compile(r"[*＊xX×#]{2,}|\*")
_EXTENSION = re.compile(r"(转|ext\.?|x|#|分机)\s*\d+\s*$", re.IGNORECASE)
_TRAILING_EXTENSION = re.compile(r"^\D*1\d{10}\s*[-－—]\s*\d{1,6}$")
_MOBILE_TYPES = {PhoneNumberType.MOBILE}


@dataclass(frozen=True)
class PhoneRejected(ValueError):
    reason: str
    code: str

    def __str__(self) -> str:
        return self.reason


def normalize_phone(raw: str, region: str = "CN") -> str:
    """Return the E.164 form, or raise PhoneRejected with the reason it cannot key an identity.

    The library accepts masked, extended and landline numbers in some forms; each is refused
    here because a wrong key merges two buyers, which is worse than not merging one.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise PhoneRejected("empty phone number", "EMPTY")
    if _MASK.search(text):
        raise PhoneRejected("masked phone number", "MASKED")
    if _EXTENSION.search(text) or _TRAILING_EXTENSION.match(text):
        raise PhoneRejected("virtual number with an extension", "EXTENSION")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneRejected(f"not a phone number: {exc}", "UNPARSEABLE") from exc
    if number.extension:
        raise PhoneRejected("virtual number with an extension", "EXTENSION")
    if not phonenumbers.is_valid_number(number):
        raise PhoneRejected("not a valid number", "INVALID")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise PhoneRejected("not a mobile number", "NOT_MOBILE")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
