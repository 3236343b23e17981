"""The order export: every order placed in a period, one row each, as CSV or XLSX, streamed in constant memory.

Rows come from one server-side streaming query (a cursor read in partitions), are formatted and encoded
partition by partition, and leave at once: memory depends on the partition size, not on the period.
No column holds a phone: the buyer is the UID, and the tables hold no plaintext phone to begin with.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, distinct, func, literal_column
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import as_utc, local
from domain.errors import Problems, UserError
from domain.fulfilment.models import ExceptionState, OrderException, Parcel
from domain.health.errors import ExportErrorCode
from domain.health.xlsx import XlsxStream
from domain.i18n import msg
from domain.ledger.models import OrderAdjustment
from domain.money import format_minor
from domain.orders.models import Order
from domain.sql import dialect

DEFAULT_DAYS = 7
PARTITION_ROWS = 2_000
MIXED = "MIXED"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Column:
    header: str
    # Text a partner typed (order numbers, tracking numbers): a spreadsheet must never run it as a formula.
    partner_text: bool = False


COLUMNS = (
    Column("order_id"),
    Column("order_number", partner_text=True),
    Column("channel"),
    Column("status"),
    Column("placed_at"),
    Column("paid_at"),
    Column("ship_requested_at"),
    Column("outbound_at"),
    Column("delivered_at"),
    Column("warehouse", partner_text=True),
    Column("carrier", partner_text=True),
    Column("tracking_number", partner_text=True),
    Column("buyer_uid"),
    Column("currency"),
    Column("items_minor"),
    Column("shipping_minor"),
    Column("discount_minor"),
    Column("total_minor"),
    Column("total"),
    Column("received_minor"),
    Column("received"),
    Column("exceptions"),
    Column("exceptions_open"),
    Column("exception_kinds"),
    Column("parcel_tracking_numbers", partner_text=True),  # every parcel's, when the order left in several
)
HEADERS = tuple(c.header for c in COLUMNS)
_PARTNER_TEXT = frozenset(i for i, c in enumerate(COLUMNS) if c.partner_text)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | None


@dataclass(frozen=True)
class Period:
    """[start, end) on the orders' placement time, in UTC."""

    start: datetime
    end: datetime

    def label(self, tz: ZoneInfo) -> str:
        """The dates as the merchant's staff name them (their clock), for file names."""
        return f"{local(self.start, tz):%Y%m%d}-{local(self.end, tz):%Y%m%d}"


def parse_format(name: str, at: tuple[str | int, ...] = ("format",)) -> ExportFormat:
    try:
        return ExportFormat(name.strip().lower())
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise UserError.one(
            at,
            msg("unknown export format {name}; known: {known}", name=repr(name), known=known),
            ExportErrorCode.UNKNOWN_FORMAT,
        ) from None


def resolve_period(
    now: datetime,
    *,
    days: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    retention_days: int,
) -> Period:
    """`days` back from `end` (default now) unless `start` is given; every problem is reported at once."""
    problems = Problems()
    start = problems.aware_time(start, ("from",))
    end = problems.aware_time(end, ("to",))
    if days is not None and not 1 <= days <= retention_days:
        problems.add(
            ("days",),
            msg("must be between 1 and {retention_days} (the retention window)", retention_days=retention_days),
            ExportErrorCode.OUT_OF_RANGE,
        )
    problems.raise_if_any()
    end = end or as_utc(now)
    start = start or end - timedelta(days=days or DEFAULT_DAYS)
    if start >= end:
        problems.add(
            ("from",),
            msg("{start} is not before {end}", start=start.isoformat(), end=end.isoformat()),
            ExportErrorCode.INVERTED_PERIOD,
        )
    elif end - start > timedelta(days=retention_days):
        problems.add(
            ("from",),
            msg(
                "the period covers {days} days; the retention window is {retention_days}",
                days=(end - start).days,
                retention_days=retention_days,
            ),
            ExportErrorCode.PERIOD_TOO_LONG,
        )
    problems.raise_if_any()
    return Period(start, end)


def _kinds(session: AsyncSession, column: Any = None) -> ColumnElement[Any]:
    kind = col(OrderException.kind) if column is None else column
    if dialect(session) == "postgresql":
        return func.string_agg(distinct(kind), literal_column("','"))
    return func.group_concat(distinct(kind))


_ORDER_COLUMNS = tuple(
    col(getattr(Order, name))
    for name in ("id", "channel_order_id", "channel", "status", "placed_at", "paid_at", "ship_requested_at",
                 "shipped_at", "delivered_at", "warehouse_code", "carrier_code", "tracking_number", "buyer_uid",
                 "currency", "items_amount", "shipping_amount", "discount_amount", "total_amount")
)  # fmt: skip


def order_rows_query(session: AsyncSession, period: Period) -> Any:
    """One statement: the period's orders with their received amount and exceptions aggregated per order.

    The aggregates read only the period's orders (the IN), so a week's export never sums a year of ledger.
    """
    in_period = (col(Order.placed_at) >= period.start, col(Order.placed_at) < period.end)
    period_ids = select(col(Order.id)).where(*in_period)
    received = (
        sa_select(
            col(OrderAdjustment.order_id).label("order_id"),
            func.sum(OrderAdjustment.amount).label("amount"),
            func.min(OrderAdjustment.currency).label("low"),
            func.max(OrderAdjustment.currency).label("high"),
        )
        .where(col(OrderAdjustment.order_id).in_(period_ids))
        .group_by(col(OrderAdjustment.order_id))
        .subquery()
    )
    exceptions = (
        sa_select(
            col(OrderException.order_id).label("order_id"),
            func.count().label("total"),
            func.sum(case((col(OrderException.state) == ExceptionState.OPEN.value, 1), else_=0)).label("open"),
            _kinds(session).label("kinds"),
        )
        .where(col(OrderException.order_id).in_(period_ids))
        .group_by(col(OrderException.order_id))
        .subquery()
    )
    parcels = (
        sa_select(col(Parcel.order_id).label("order_id"), _kinds(session, col(Parcel.tracking_number)).label("numbers"))
        .where(col(Parcel.order_id).in_(period_ids))
        .group_by(col(Parcel.order_id))
        .subquery()
    )
    return (
        sa_select(*_ORDER_COLUMNS, *_received_columns(received), *_exception_columns(exceptions), parcels.c.numbers)
        .select_from(Order)
        .outerjoin(received, received.c.order_id == col(Order.id))
        .outerjoin(exceptions, exceptions.c.order_id == col(Order.id))
        .outerjoin(parcels, parcels.c.order_id == col(Order.id))
        .where(*in_period)
        .order_by(col(Order.placed_at), col(Order.id))
    )


def _received_columns(received: Any) -> tuple[Any, ...]:
    return received.c.amount, received.c.low, received.c.high


def _exception_columns(exceptions: Any) -> tuple[Any, ...]:
    return exceptions.c.total, exceptions.c.open, exceptions.c.kinds


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def format_row(row: Sequence[Any]) -> list[Cell]:
    order_id, number, channel, status, placed, paid, requested, outbound, delivered = row[:9]
    warehouse, carrier, tracking, uid, currency, items, shipping, discount, total = row[9:18]
    received, low, high, n_exc, n_open, kinds, numbers = row[18:]
    if received is None:
        received_minor: int | None = 0
        received_text: str | None = format_minor(0, currency)
    elif low == high == currency:
        received_minor, received_text = int(received), format_minor(int(received), currency)
    else:  # adjustments in another currency cannot be added to this one: say so rather than sum them
        received_minor, received_text = None, MIXED
    return [
        f"gid://orderhub/Order/{order_id}", number, channel, status,
        _time(placed), _time(paid), _time(requested), _time(outbound), _time(delivered),
        warehouse, carrier, tracking, uid, currency,
        int(items), int(shipping), int(discount), int(total), format_minor(int(total), currency),
        received_minor, received_text,
        int(n_exc or 0), int(n_open or 0), ";".join(sorted(kinds.split(","))) if kinds else None,
        ";".join(sorted(numbers.split(","))) if numbers else None,
    ]  # fmt: skip


def _csv_safe(row: list[Cell]) -> list[Cell]:
    """A partner-typed value starting like a formula gets a leading apostrophe (the OWASP CSV-injection rule)."""
    for i in _PARTNER_TEXT:
        value = row[i]
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            row[i] = "'" + value
    return row


class _CsvEncoder:
    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def encode(self, rows: Sequence[Sequence[Cell]]) -> bytes:
        self._writer.writerows(rows)
        data = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data


class OrderExport:
    """Streams one export; `rows` counts what has been written so far (the header not included).

    CSV is UTF-8 with a byte-order mark, so that spreadsheet programs read Chinese titles and names right.
    An empty period gives a file with only the header row.
    """

    def __init__(self, period: Period, fmt: ExportFormat, tz: ZoneInfo) -> None:
        self.period = period
        self.format = fmt
        self.tz = tz  # the merchant's clock: the file's name; the times in it stay UTC ISO 8601
        self.rows = 0

    @property
    def filename(self) -> str:
        return f"orders-{self.period.label(self.tz)}.{self.format.value}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    async def chunks(self, session: AsyncSession) -> AsyncIterator[bytes]:
        statement = order_rows_query(session, self.period).execution_options(yield_per=PARTITION_ROWS)
        if self.format is ExportFormat.XLSX:
            xlsx = XlsxStream(HEADERS)
            yield xlsx.header()
            async for partition in _partitions(session, statement):
                self.rows += len(partition)
                yield xlsx.rows(format_row(r) for r in partition)
            yield xlsx.close()
            return
        encoder = _CsvEncoder()
        yield b"\xef\xbb\xbf" + encoder.encode([HEADERS])
        async for partition in _partitions(session, statement):
            self.rows += len(partition)
            yield encoder.encode([_csv_safe(format_row(r)) for r in partition])


async def _partitions(session: AsyncSession, statement: Any) -> AsyncIterator[Sequence[Any]]:
    result = await session.stream(statement)
    try:
        async for partition in result.partitions(PARTITION_ROWS):
            yield partition
    finally:
        await result.close()


async def has_orders(session: AsyncSession, period: Period) -> bool:
    """Whether the period holds any order: lets a download say up front that its file has only the header."""
    query = select(col(Order.id)).where(col(Order.placed_at) >= period.start, col(Order.placed_at) < period.end)
    return (await session.exec(query.limit(1))).first() is not None
