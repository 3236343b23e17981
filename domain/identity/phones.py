"""Phone numbers become identity keys only when they are a real, complete mobile number."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

# Placeholders channels use to hide digits; a dot or a middle dot only counts in a run, as it also separates groups.
_MASK = re.compile(r"[*xX×#•●○_?…]{2,}|[*•●…]|[.·]{3,}")
_EXTENSION = re.compile(r"(转|ext\.?|x|#|分机)\s*\d+\s*[)）]?\s*$", re.IGNORECASE)
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣－~～"})
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_COUNTRY = re.compile(r"^\(?(?:\+|00)?86\)?(?=[\s\-.(]*1\d)")
_LETTERS = re.compile(r"[A-Za-z]")
_MOBILE_TYPES = {PhoneNumberType.MOBILE}


@dataclass(frozen=True)
class PhoneRejected(ValueError):
    reason: str
    code: str

    def __str__(self) -> str:
        return self.reason


def _canonical_text(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw or "")
    text = _INVISIBLE.sub("", text).translate(_DASHES).strip()
    if text.lower().startswith("tel:"):
        text = text[4:].strip()
    return text


def _national_groups(text: str) -> list[str]:
    """Digit groups after any mainland country prefix, as written."""
    return re.findall(r"\d+", _COUNTRY.sub("", text, count=1))


def _has_trailing_extension(groups: list[str]) -> bool:
    """A complete 11-digit mobile followed by a separate group of digits is a privacy number's extension.

    The library reads `138 1234 5678 1234` as one too-long number or, worse, drops the tail; platform
    privacy numbers (虚拟号) reach the real buyer only with that tail, so the number alone keys nobody.
    """
    length = 0
    for index, group in enumerate(groups):
        length += len(group)
        if length == 11:
            rest = groups[index + 1 :]
            return bool(rest) and "".join(groups)[0] == "1" and len("".join(rest)) <= 6
        if length > 11:
            return False
    return False


def _several_numbers(groups: list[str]) -> bool:
    return sum(1 for group in groups if len(group) == 11 and group.startswith("1")) > 1


def normalize_phone(raw: str, region: str = "CN") -> str:
    """Return the E.164 form, or raise PhoneRejected with the reason it cannot key an identity.

    The library accepts masked, extended, lettered and landline numbers in some forms; each is refused
    here because a wrong key merges two buyers, which is worse than not merging one.
    """
    text = _canonical_text(raw)
    if not text:
        raise PhoneRejected("empty phone number", "EMPTY")
    if _MASK.search(text):
        if visible_digits(text) < VISIBLE_DIGITS:
            raise PhoneRejected(f"masked phone number showing fewer than {VISIBLE_DIGITS} digits", "MASKED_SHORT")
        raise PhoneRejected("masked phone number", "MASKED")
    groups = _national_groups(text)
    if _several_numbers(groups):
        raise PhoneRejected("more than one phone number", "SEVERAL")
    if _EXTENSION.search(text) or _has_trailing_extension(groups):
        raise PhoneRejected("virtual number with an extension", "EXTENSION")
    if _LETTERS.search(text):
        # phonenumbers reads vanity letters as digits (138-CALL-5678); a buyer's phone never has letters.
        raise PhoneRejected("letters in a phone number", "UNPARSEABLE")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneRejected(f"not a phone number: {exc}", "UNPARSEABLE") from exc
    if number.extension:
        raise PhoneRejected("virtual number with an extension", "EXTENSION")
    if not phonenumbers.is_valid_number(number):
        code = "POSSIBLE_ONLY" if phonenumbers.is_possible_number(number) else "INVALID"
        raise PhoneRejected("not a valid number", code)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise PhoneRejected("not a mobile number", "NOT_MOBILE")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_MASK_CHARS = "*xX×#•●○_?＊"
_MASKED_MOBILE = re.compile(rf"(1\d{{2,}})([{re.escape(_MASK_CHARS)}]+)(\d{{4,}})")
VISIBLE_DIGITS = 7


def masked_pattern(raw: str | None) -> str | None:
    """The `138****1234` shape of a masked or complete mainland mobile, for suggesting (never making) a match.

    Channels hide the middle with as many mask characters as they like (`138******1234`), so the key keeps
    only the 3-digit prefix and 4-digit suffix. Returns None when fewer than seven digits show: two buyers
    sharing a prefix is not a hint.
    """
    text = _canonical_text(raw or "")
    if not text:
        return None
    text = _COUNTRY.sub("", text, count=1)
    shape = "".join(c for c in text if c.isdigit() or c in _MASK_CHARS)
    if len(shape) == 11 and shape[:3].isdigit() and shape[7:].isdigit() and shape.startswith("1"):
        return shape[:3] + "****" + shape[7:]  # the mask may cover fewer than four middle digits
    found = _MASKED_MOBILE.fullmatch(shape)
    if found is None or len(found.group(1)) + len(found.group(3)) > 10:
        return None
    return found.group(1)[:3] + "****" + found.group(3)[-4:]


def visible_digits(raw: str | None) -> int:
    return sum(c.isdigit() for c in _COUNTRY.sub("", _canonical_text(raw or ""), count=1))
