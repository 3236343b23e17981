"""Fulfilment lead time: how long the warehouse took from the ship request to the outbound, and the carrier from
the outbound to the delivery, per warehouse and merchant-clock day.

A lead time counts on the day its leg ended (the outbound, the delivery): that day's figure is then final, while
counting by the day it began would keep changing as late parcels finish. Medians and 90th percentiles, not means:
one parcel forgotten for a week would otherwise hide what the floor does every day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, cast, extract, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problems
from domain.health.errors import HealthErrorCode
from domain.health.windows import Window
from domain.i18n import msg
from domain.orders.models import Order
from domain.sql import dialect

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Leg:
    """One leg's lead times on one day: how many finished, and the median and 90th percentile in hours."""

    count: int
    median_hours: float | None
    p90_hours: float | None

    @classmethod
    def of(cls, hours: list[float]) -> Leg:
        if not hours:
            return cls(0, None, None)
        ordered = sorted(hours)
        # nearest rank: the 90th percentile is a lead time that really happened, not a blend of two
        return cls(len(ordered), median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True)
class LeadTimeDay:
    warehouse: str | None
    day: date  # the merchant's calendar day
    to_outbound: Leg  # ship request -> outbound
    to_delivery: Leg  # outbound -> delivery


def resolve_range(
    problems: Problems,
    tz: ZoneInfo,
    retention_days: int,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None = None,
) -> Window | None:
    """[from, to) as given, or the last seven merchant days, today included."""
    before = len(problems.items)
    start = problems.aware_time(start, ("from",))
    end = problems.aware_time(end, ("to",))
    if len(problems.items) > before:
        return None
    if end is None:
        today = (now or utcnow()).astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        end = (today + timedelta(days=1)).astimezone(ZoneInfo("UTC"))
    if start is None:
        local_end = end.astimezone(tz)
        first = (local_end - timedelta(days=DEFAULT_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
        if local_end.time() != first.time():  # an end mid-day keeps that day whole in the seven
            first += timedelta(days=1)
        start = first.astimezone(ZoneInfo("UTC"))
    if end <= start:
        problems.add(
            ("to",),
            msg(
                "lead times need a range that ends after it starts ({start} to {end})",
                start=start.isoformat(),
                end=end.isoformat(),
            ),
            HealthErrorCode.INVERTED_RANGE,
        )
        return None
    if end - start > timedelta(days=retention_days):
        problems.add(
            ("to",),
            msg("lead times cover at most {days} days, the retention window", days=retention_days),
            HealthErrorCode.PERIOD_TOO_LONG,
        )
        return None
    return Window(start, end, None)


async def lead_times(
    session: AsyncSession, window: Window, tz: ZoneInfo, warehouse: str | None = None
) -> list[LeadTimeDay]:
    """Every (warehouse, day) with a leg that ended inside the window, by warehouse (none last) then day."""
    legs: dict[tuple[str | None, date], list[Leg]] = defaultdict(lambda: [Leg.of([]), Leg.of([])])
    measure = _in_postgresql if dialect(session) == "postgresql" else _in_python
    for index, (begun, ended) in enumerate(LEGS):
        for code, day, leg in await measure(session, window, tz, warehouse, begun, ended):
            legs[(code, day)][index] = leg
    return [
        LeadTimeDay(code, day, outbound, delivery)
        for (code, day), (outbound, delivery) in sorted(legs.items(), key=lambda kv: (kv[0][0] is None, kv[0]))
    ]


LEGS = (
    (col(Order.ship_requested_at), col(Order.shipped_at)),
    (col(Order.shipped_at), col(Order.delivered_at)),
)
Measured = list[tuple[str | None, date, Leg]]


def _finished(window: Window, warehouse: str | None, begun: Any, ended: Any) -> list[Any]:
    """Legs that ended in the window; an outbound before its request is an exception, not a lead time."""
    where = [ended >= window.start, ended < window.end, begun.is_not(None), ended >= begun]
    return [*where, col(Order.warehouse_code) == warehouse] if warehouse is not None else where


async def _in_postgresql(
    session: AsyncSession, window: Window, tz: ZoneInfo, warehouse: str | None, begun: Any, ended: Any
) -> Measured:
    """Counted and ranked where the rows are: a day of a million orders never crosses the wire.

    percentile_disc is the nearest rank, as Leg.of; the hours are the same float division as Python's."""
    hours = (cast(extract("epoch", ended - begun), Float) / 3600.0).label("hours")
    rows = (
        select(col(Order.warehouse_code).label("code"), ended.label("ended"), hours)
        .where(*_finished(window, warehouse, begun, ended))
        .subquery()
    )
    day = cast(func.timezone(tz.key, rows.c.ended), Date)
    query = select(
        rows.c.code,
        day,
        func.count(),
        func.percentile_cont(0.5).within_group(rows.c.hours),
        func.percentile_disc(0.9).within_group(rows.c.hours),
    ).group_by(rows.c.code, day)
    return [
        (code, on, Leg(count, float(middle), float(p90)))
        for code, on, count, middle, p90 in (await session.execute(query)).all()
    ]


async def _in_python(
    session: AsyncSession, window: Window, tz: ZoneInfo, warehouse: str | None, begun: Any, ended: Any
) -> Measured:
    """SQLite has neither time zones nor percentiles: the rows come back and are ranked here."""
    query = select(col(Order.warehouse_code), begun, ended).where(*_finished(window, warehouse, begun, ended))
    found: dict[tuple[str | None, date], list[float]] = defaultdict(list)
    for code, began_at, ended_at in (await session.execute(query)).all():
        found[(code, ended_at.astimezone(tz).date())].append((ended_at - began_at).total_seconds() / 3600)
    return [(code, on, Leg.of(hours)) for (code, on), hours in found.items()]
