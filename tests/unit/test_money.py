"""Money is an integer of minor units: parsing never rounds, never guesses a currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.money import CURRENCY_EXPONENTS, Money, MoneyError, exponent, format_minor, parse_minor


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("80.00", "CNY", 8000),
        ("80", "CNY", 8000),
        ("80.5", "CNY", 8050),
        ("0.01", "CNY", 1),
        ("0", "CNY", 0),
        (" 12.34 ", "USD", 1234),
        ("19.99", "USD", 1999),
        ("1000", "JPY", 1000),
        ("1000.0", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("1.2", "KWD", 1200),
        ("0.001", "KWD", 1),
        ("1.2345", "CLF", 12345),
    ],
)
def test_parse_minor_accepts_exact_amounts(text: str, currency: str, minor: int) -> None:
    assert parse_minor(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("80.001", "CNY"),
        ("0.005", "USD"),
        ("1.5", "JPY"),
        ("1.2345", "KWD"),
        ("1e3", "CNY"),
        ("1E3", "JPY"),
        ("abc", "CNY"),
        ("", "CNY"),
        ("   ", "CNY"),
        ("1,000.00", "CNY"),
        ("1.", "CNY"),
        (".5", "CNY"),
        ("+1.00", "CNY"),
        ("1.00 CNY", "CNY"),
        ("¥80.00", "CNY"),
        ("NaN", "CNY"),
        ("Infinity", "CNY"),
        ("--1", "CNY"),
    ],
)
def test_parse_minor_rejects_invalid_amounts(text: str, currency: str) -> None:
    with pytest.raises(MoneyError) as excinfo:
        parse_minor(text, currency)
    assert excinfo.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize("text", ["-1.00", "-0.01", "-80"])
def test_negative_amounts_need_permission(text: str) -> None:
    with pytest.raises(MoneyError) as excinfo:
        parse_minor(text, "CNY")
    assert excinfo.value.code == "NEGATIVE_AMOUNT"
    assert parse_minor(text, "CNY", allow_negative=True) == -int(Decimal(text[1:]) * 100)


def test_negative_zero_is_zero() -> None:
    assert parse_minor("-0.00", "CNY") == 0


def test_negative_amount_still_refuses_rounding() -> None:
    with pytest.raises(MoneyError) as excinfo:
        parse_minor("-1.001", "CNY", allow_negative=True)
    assert excinfo.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize("currency", ["RMB", "XYZ", "cny", "usd", "", "CN", "CNYY", " CNY"])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(MoneyError) as excinfo:
        parse_minor("1.00", currency)
    assert excinfo.value.code == "INVALID_CURRENCY"
    with pytest.raises(MoneyError) as excinfo:
        format_minor(100, currency)
    assert excinfo.value.code == "INVALID_CURRENCY"


def test_exponents_of_well_known_currencies() -> None:
    assert exponent("CNY") == 2
    assert exponent("USD") == 2
    assert exponent("EUR") == 2
    assert exponent("JPY") == 0
    assert exponent("KRW") == 0
    assert exponent("KWD") == 3
    assert exponent("BHD") == 3
    assert exponent("CLF") == 4
    assert all(code.isascii() and code.isupper() and len(code) == 3 for code in CURRENCY_EXPONENTS)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (8000, "CNY", "80.00"),
        (1, "CNY", "0.01"),
        (0, "USD", "0.00"),
        (-5, "CNY", "-0.05"),
        (1000, "JPY", "1000"),
        (1234, "KWD", "1.234"),
        (1, "KWD", "0.001"),
        (5, "CLF", "0.0005"),
    ],
)
def test_format_minor(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text
    assert parse_minor(text, currency, allow_negative=True) == minor


def test_money_addition_and_rendering() -> None:
    total = Money(8000, "CNY") + Money(550, "CNY")
    assert total == Money(8550, "CNY")
    assert str(total) == "85.50 CNY"
    assert total.decimal() == Decimal("85.50")
    assert str(Money(1000, "JPY")) == "1000 JPY"


@pytest.mark.parametrize(("left", "right"), [("CNY", "USD"), ("USD", "CNY"), ("CNY", "JPY")])
def test_money_addition_refuses_mixed_currencies(left: str, right: str) -> None:
    with pytest.raises(MoneyError) as excinfo:
        Money(100, left) + Money(100, right)
    assert excinfo.value.code == "CURRENCY_MISMATCH"


@settings(max_examples=300)
@given(minor=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    text = format_minor(minor, currency)
    assert parse_minor(text, currency, allow_negative=True) == minor
    if minor >= 0:
        assert parse_minor(text, currency) == minor
    else:
        with pytest.raises(MoneyError):
            parse_minor(text, currency)


@settings(max_examples=200)
@given(
    minor=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(sorted(code for code, digits in CURRENCY_EXPONENTS.items() if digits > 0)),
)
def test_one_digit_too_many_is_refused(minor: int, currency: str) -> None:
    """Appending a non-zero digit below the minor unit must be refused, not rounded away."""
    text = format_minor(minor, currency) + "1"
    with pytest.raises(MoneyError) as excinfo:
        parse_minor(text, currency)
    assert excinfo.value.code == "INVALID_AMOUNT"


def test_parse_minor_refuses_rounding_of_long_fractions() -> None:
    with pytest.raises(MoneyError) as excinfo:
        parse_minor("80.0000000000000000000000000000001", "CNY")
    assert excinfo.value.code == "INVALID_AMOUNT"


def test_parse_minor_is_exact_for_long_amounts() -> None:
    text = "12345678901234567890123456789.01"
    try:
        parsed = parse_minor(text, "CNY")
    except MoneyError:
        return  # refusing an absurd amount outright would be acceptable too
    assert parsed == 1234567890123456789012345678901


def test_format_minor_is_exact_for_long_amounts() -> None:
    assert format_minor(10**30 + 1, "CNY") == "10000000000000000000000000000.01"
