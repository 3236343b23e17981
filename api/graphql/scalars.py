"""Money and decimal amounts on the wire: decimals travel as strings, never as floats."""

from __future__ import annotations

from typing import NewType

import strawberry

from domain.money import format_minor

Decimal = NewType("Decimal", str)

DECIMAL_SCALAR = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string, e.g. "80.00". JSON numbers are refused: floats lose cents.',
    serialize=str,
    parse_value=lambda value: _parse_decimal(value),
)


def _parse_decimal(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError('Decimal values are strings, e.g. "80.00"')
    return value


@strawberry.type(description="An amount in a currency.")
class Money:
    amount: Decimal
    currency_code: str

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=format_minor(minor, currency), currency_code=currency)  # type: ignore[arg-type]
