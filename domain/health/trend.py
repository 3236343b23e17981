"""A metric's trend: one point per period, from the stored snapshot where one exists, else computed now.

The request is checked whole (period, dimension, metrics, end, count and key) so that every wrong field comes
back at once, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import Problems
from domain.health.errors import HealthErrorCode
from domain.health.metrics import measure, roll_up
from domain.health.snapshots import stored_trend, trend_starts
from domain.health.thresholds import Metric, current_thresholds, is_healthy, parse_metrics
from domain.health.windows import LENGTH, Dimension, Period, Window, parse_dimension, parse_period
from domain.i18n import msg


@dataclass(frozen=True)
class TrendRequest:
    metrics: list[Metric]
    period: Period
    dimension: Dimension
    key: str | None
    """The channel or warehouse followed; None for ALL."""
    windows: list[Window]


def resolve_trend(
    problems: Problems, tz: ZoneInfo, retention_days: int, now: datetime, *, metrics: list[str] | None,
    period: str, dimension: str, count: int, end: datetime | None, key: str | None,
) -> TrendRequest | None:  # fmt: skip
    """The periods to show, or None with every problem added."""
    chosen = parse_period(period, ("period",), problems)
    split = parse_dimension(dimension, ("dimension",), problems)
    wanted = parse_metrics(metrics, ("metrics",), problems)
    end_at = problems.aware_time(end, ("end",))
    if count < 1:
        problems.add(("count",), msg("ask for at least one period"), HealthErrorCode.OUT_OF_RANGE)
    elif chosen is not None and LENGTH[chosen] * count > LENGTH[Period.DAY] * retention_days:
        reach = msg("{count} periods reach past the {days}-day retention window", count=count, days=retention_days)
        problems.add(("count",), reach, HealthErrorCode.PERIOD_TOO_LONG)
    if split is not None and split is not Dimension.ALL and not key:
        problems.add(
            ("key",), msg("name the {dimension} to follow", dimension=split.value.lower()), HealthErrorCode.REQUIRED
        )
    if problems.items or chosen is None or split is None:
        return None
    followed = None if split is Dimension.ALL else key
    return TrendRequest(wanted, chosen, split, followed, trend_starts(chosen, end_at or now, count, tz))


@dataclass(frozen=True)
class TrendPoint:
    window: Window
    numerator: int
    denominator: int
    value: float | None
    threshold: float
    healthy: bool | None
    computed_at: datetime | None
    """When the stored snapshot was computed; None for a point computed now."""

    @property
    def stored(self) -> bool:
        return self.computed_at is not None


@dataclass(frozen=True)
class TrendSeries:
    metric: Metric
    threshold: float
    points: list[TrendPoint]


async def trend(session: AsyncSession, request: TrendRequest, now: datetime) -> list[TrendSeries]:
    thresholds = await current_thresholds(session)
    series = []
    for metric in request.metrics:
        starts = [w.start for w in request.windows]
        stored = await stored_trend(session, metric, request.period, starts, request.dimension, request.key)
        points = []
        for w in request.windows:
            snap = stored.get(w.start)
            if snap is not None:
                healthy = is_healthy(metric, snap.value, snap.threshold)
                points.append(TrendPoint(w, snap.numerator, snap.denominator, snap.value, snap.threshold, healthy,
                                         snap.computed_at))  # fmt: skip
                continue
            grouped = request.dimension is not Dimension.ALL
            rows = roll_up(metric, await measure(session, metric, w, now, grouped=grouped), request.dimension)
            row = next((r for r in rows if request.key in (None, r.channel, r.warehouse_code)), None)
            n, d = (row.numerator, row.denominator) if row else (0, 0)
            value = n / d if d else None
            threshold = thresholds[metric]
            points.append(TrendPoint(w, n, d, value, threshold, is_healthy(metric, value, threshold), None))
        series.append(TrendSeries(metric, thresholds[metric], points))
    return series
