"""Money is an integer count of the currency's minor unit plus its ISO 4217 code; never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import CommonCode, ErrorCode
from domain.i18n import Message, msg

# Active ISO 4217 codes whose minor unit is not two digits.
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip

_TWO_DIGIT = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR
LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD
PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG
"""

CURRENCY_EXPONENTS: dict[str, int] = {code: 2 for code in _TWO_DIGIT.split()} | _EXPONENTS

_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


class MoneyError(ValueError):
    """`message` is what the person who typed the amount reads, in their language; str() is its English."""

    def __init__(self, message: Message, code: ErrorCode) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError(
                msg("cannot add {added} to {currency}", added=other.currency, currency=self.currency),
                CommonCode.CURRENCY_MISMATCH,
            )
        return Money(self.minor + other.minor, self.currency)

    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        return f"{format_minor(self.minor, self.currency)} {self.currency}"


def check_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise MoneyError(msg("{code} is not an ISO 4217 currency code", code=repr(code)), CommonCode.INVALID_CURRENCY)
    return code


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[check_currency(currency)]


def parse_minor(text: str, currency: str, *, allow_negative: bool = False) -> int:
    """Turn a decimal string such as "80.00" into minor units, refusing any rounding.

    Integer arithmetic on the digits, not Decimal arithmetic: a Decimal context rounds past
    28 digits without a word, and an amount must never change on the way in.
    """
    cleaned = text.strip()
    if not _AMOUNT.match(cleaned):
        raise MoneyError(msg("{text} is not a decimal amount", text=repr(text)), CommonCode.INVALID_AMOUNT)
    negative = cleaned.startswith("-")
    whole, _, fraction = cleaned.lstrip("-").partition(".")
    if negative and not allow_negative and (whole.strip("0") or fraction.strip("0")):
        raise MoneyError(msg("{text} is negative", text=repr(text)), CommonCode.NEGATIVE_AMOUNT)
    digits = exponent(currency)
    if fraction[digits:].strip("0"):
        raise MoneyError(
            msg(
                "{text} has more decimals than {currency} allows ({digits})",
                text=repr(text),
                currency=currency,
                digits=digits,
            ),
            CommonCode.INVALID_AMOUNT,
        )
    minor = int(whole + fraction[:digits].ljust(digits, "0"))
    return -minor if negative else minor


def format_minor(minor: int, currency: str) -> str:
    digits = exponent(currency)
    whole, part = divmod(abs(minor), 10**digits)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{part:0{digits}d}" if digits else f"{sign}{whole}"
