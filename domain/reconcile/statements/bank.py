"""A bank's CSV export, read through a column map: banks agree on nothing but the idea of a row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from domain.i18n import msg
from domain.ledger.models import VoucherKind
from domain.reconcile.statements.lines import (
    ParsedStatement,
    Row,
    StatementError,
    StatementLine,
    header_index,
    local_days,
)


@dataclass(frozen=True)
class BankColumns:
    """Either `amount` (signed) or both `debit` and `credit`; currency is a column or a fixed code."""

    txn_id: str = "reference"
    time: str = "booked_at"
    amount: str | None = "amount"
    debit: str | None = None
    credit: str | None = None
    currency: str | None = "currency"
    fixed_currency: str = "CNY"
    order_ref: str | None = "memo"
    time_format: str = "%Y-%m-%d %H:%M:%S"
    encoding: str = "utf-8-sig"

    def required(self) -> tuple[str, ...]:
        names = [self.txn_id, self.time]
        names += [self.amount] if self.amount else [c for c in (self.debit, self.credit) if c]
        return tuple(names)


def parse(
    file: str, data: bytes, columns: BankColumns, *, provider: str = "bank", tz: ZoneInfo | None = None
) -> ParsedStatement:
    if not columns.amount and not (columns.debit and columns.credit):
        raise StatementError(file, 1, None, msg("column map needs amount, or debit and credit"))
    zone = tz or ZoneInfo("Asia/Shanghai")
    try:
        text = data.decode(columns.encoding)
    except UnicodeDecodeError as exc:
        raise StatementError(
            file, data[: exc.start].count(b"\n") + 1, None, msg("not {encoding} text", encoding=columns.encoding)
        ) from exc
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    if first is None:
        raise StatementError(file, 1, None, msg("empty file"))
    header = header_index(file, 1, first, columns.required())
    lines: list[StatementLine] = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = Row(file, line_no, header, cells)
        currency = row.text(columns.currency, required=False) if columns.currency else ""
        currency = currency or columns.fixed_currency
        if columns.amount:
            amount = row.minor(columns.amount, currency)
        else:
            assert columns.debit and columns.credit
            amount = row.minor(columns.credit, currency, required=False) - row.minor(
                columns.debit, currency, required=False
            )
        order = row.text(columns.order_ref, required=False) if columns.order_ref else ""
        kind = VoucherKind.REFUND if amount < 0 else VoucherKind.PAYMENT
        lines.append(
            StatementLine(
                line_no, row.text(columns.txn_id), kind, order or None, amount, currency,
                row.time(columns.time, zone, columns.time_format),
            )
        )  # fmt: skip
    start, end = local_days(file, lines, zone)
    return ParsedStatement(provider, "bank-csv", start, end, lines)
