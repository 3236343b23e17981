"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from domain.errors import CommonCode, Problems
from domain.i18n import msg

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGSERIAL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite, which forgets offsets, values come back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: orderhub stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False, **kwargs: Any) -> Any:
    return Column(UtcDateTime(), nullable=nullable, index=index, **kwargs)


def money_column(*, nullable: bool = False) -> Any:
    return Column(BigInteger(), nullable=nullable)


def id_column() -> Any:
    return Column(BigId, primary_key=True, autoincrement=True)


NOTE_LENGTH = 2000
"""Free text a person writes (a note, a reason), kept in a JSON or unbounded column."""


def check_text(problems: Problems, at: tuple[str | int, ...], value: str | None, column: Any) -> None:
    """Both databases accept or refuse the same text: PostgreSQL refuses a NUL character in any text (and in
    jsonb) and a string longer than its varchar, where SQLite would store both. The limit is the length the model
    declares for `column` (`col(Order.sku)`), or an int for text kept in a JSON or unbounded column."""
    if value is None:
        return
    if "\x00" in value:
        problems.add(at, msg("contains a NUL character"), CommonCode.INVALID_CHARACTER)
    limit = column if isinstance(column, int) else getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        problems.add(at, msg("longer than {limit} characters", limit=limit), CommonCode.TOO_LONG)


def check_note(name: str, value: str | None) -> None:
    """A note or reason a person writes: refused, naming `name`, with a NUL character or past NOTE_LENGTH."""
    problems = Problems()
    check_text(problems, (name,), value, NOTE_LENGTH)
    problems.raise_if_any()


def check_row(
    problems: Problems, model: type[Any], row: dict[str, Any], paths: dict[str, tuple[str | int, ...]]
) -> None:
    """`check_text` for every string of a row about to be inserted into `model`'s table, JSON values included;
    `paths` names the input field behind each column (a column not named is named itself)."""
    columns = model.__table__.c
    for name, value in row.items():
        at = paths.get(name, (name,))
        if isinstance(value, str):
            check_text(problems, at, value, columns[name])
        elif isinstance(value, dict | list) and _has_nul(value):
            problems.add(at, msg("contains a NUL character"), CommonCode.INVALID_CHARACTER)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
