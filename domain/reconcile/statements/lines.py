"""What every statement parser produces: normalized lines and the period they cover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.i18n import Message, msg
from domain.ledger.models import VoucherKind
from domain.money import MoneyError, parse_minor


class StatementError(ValueError):
    """Names the file, the 1-based line and the column (by header name) at fault."""

    def __init__(self, file: str, line: int, column: str | None, message: Message) -> None:
        if column:
            self.message = msg(
                "{file}, line {line}, column {column}: {message}", file=file, line=line, column=column, message=message
            )
        else:
            self.message = msg("{file}, line {line}: {message}", file=file, line=line, message=message)
        super().__init__(str(self.message))
        self.file = file
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_no: int
    provider_txn_id: str
    kind: VoucherKind
    order_ref: str | None
    amount: int
    currency: str
    occurred_at: datetime


@dataclass(frozen=True)
class ParsedStatement:
    provider: str
    fmt: str
    period_start: datetime
    period_end: datetime
    lines: list[StatementLine]


class Row:
    """One CSV row addressed by header name, so that errors can name the column."""

    def __init__(self, file: str, line_no: int, header: dict[str, int], cells: list[str]) -> None:
        self.file = file
        self.line_no = line_no
        self.header = header
        self.cells = cells

    def error(self, column: str | None, message: Message) -> StatementError:
        return StatementError(self.file, self.line_no, column, message)

    def text(self, column: str, *, required: bool = True) -> str:
        index = self.header.get(column)
        if index is None or index >= len(self.cells):
            if required:
                raise self.error(column, msg("missing"))
            return ""
        value = self.cells[index].strip().lstrip("`").strip()
        if required and not value:
            raise self.error(column, msg("empty"))
        return value

    def minor(self, column: str, currency: str, *, required: bool = True) -> int:
        value = self.text(column, required=required)
        if not value:
            return 0
        try:
            return parse_minor(value, currency, allow_negative=True)
        except MoneyError as exc:
            raise self.error(column, exc.message) from exc

    def time(self, column: str, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime:
        value = self.text(column)
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError as exc:
            raise self.error(column, msg("{value} is not a time like {fmt}", value=repr(value), fmt=fmt)) from exc


def header_index(file: str, line_no: int, cells: list[str], required: tuple[str, ...]) -> dict[str, int]:
    header = {cell.strip().lstrip("`").strip(): i for i, cell in enumerate(cells)}
    missing = [name for name in required if name not in header]
    if missing:
        raise StatementError(file, line_no, None, msg("header lacks {missing}", missing=", ".join(missing)))
    return header


def local_days(file: str, lines: list[StatementLine], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A statement covers whole local days: from the first line's midnight to the midnight after the last."""
    if not lines:
        raise StatementError(file, 1, None, msg("no lines: the period cannot be known"))
    first = min(line.occurred_at for line in lines).astimezone(tz)
    last = max(line.occurred_at for line in lines).astimezone(tz)
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    end = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return start, end
