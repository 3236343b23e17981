"""Computing and keeping the metrics: the hourly job and the staff button store snapshots; trends read them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.health.metrics import Measured, measure_many, roll_up
from domain.health.models import HealthSnapshot
from domain.health.thresholds import Metric, current_thresholds
from domain.health.windows import LENGTH, Dimension, Period, Window, window_of


@dataclass(frozen=True)
class Computed:
    window: Window
    computed_at: datetime
    rows: list[Measured]
    thresholds: dict[Metric, float]

    def overall(self) -> list[Measured]:
        return [r for r in self.rows if r.dimension is Dimension.ALL]


async def compute_snapshots(
    session: AsyncSession, period: Period, at: datetime, now: datetime, tz: ZoneInfo
) -> Computed:
    """Every metric for the period holding `at`, overall and per channel and per warehouse, as new rows."""
    window = window_of(period, at, tz)
    thresholds = await current_thresholds(session)
    rows: list[Measured] = []
    for metric, counts in (await measure_many(session, Metric, window, now)).items():
        for dimension in Dimension:
            rows.extend(roll_up(metric, counts, dimension))
    await session.execute(
        insert(HealthSnapshot),
        [
            {
                "metric": r.metric.value, "period": period.value, "period_start": window.start,
                "dimension": r.dimension.value, "channel": r.channel, "warehouse_code": r.warehouse_code,
                "numerator": r.numerator, "denominator": r.denominator, "value": r.value,
                "threshold": thresholds[r.metric], "computed_at": now,
            }
            for r in rows
        ],
    )  # fmt: skip
    return Computed(window, now, rows, thresholds)


async def stored_trend(
    session: AsyncSession,
    metric: Metric,
    period: Period,
    starts: Sequence[datetime],
    dimension: Dimension = Dimension.ALL,
    key: str | None = None,
) -> dict[datetime, HealthSnapshot]:
    """The latest snapshot of each period start asked for; a period never computed is absent."""
    if not starts:
        return {}
    query = select(HealthSnapshot).where(
        HealthSnapshot.metric == metric.value,
        HealthSnapshot.period == period.value,
        HealthSnapshot.dimension == dimension.value,
        col(HealthSnapshot.period_start) >= min(starts),
        col(HealthSnapshot.period_start) <= max(starts),
    )
    if dimension is Dimension.CHANNEL:
        query = query.where(HealthSnapshot.channel == key)
    elif dimension is Dimension.WAREHOUSE:
        query = query.where(HealthSnapshot.warehouse_code == key)
    latest: dict[datetime, HealthSnapshot] = {}
    for row in (await session.exec(query.order_by(col(HealthSnapshot.computed_at), col(HealthSnapshot.id)))).all():
        latest[row.period_start] = row
    return latest


def trend_starts(period: Period, end: datetime, count: int, tz: ZoneInfo) -> list[Window]:
    """The `count` periods ending with the one holding `end`, oldest first."""
    windows = [window_of(period, end, tz)]
    while len(windows) < count:
        windows.append(window_of(period, windows[-1].start - LENGTH[period] / 2, tz))
    return list(reversed(windows))
