"""What staff ask of order health: the five metrics now, their trend, the orders behind each, thresholds,
alerts and the self-check.

Query inputs name metrics, periods and dimensions as strings so that a wrong one comes back as a `userErrors`
entry naming the field and the accepted values."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.orders import SalesChannel
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.clock import utcnow
from domain.errors import Problems
from domain.health import alerts as health_alerts
from domain.health import drilldown
from domain.health import selfcheck as checks
from domain.health.errors import HealthErrorCode
from domain.health.metrics import measure, measure_all, roll_up
from domain.health.snapshots import stored_trend, trend_starts
from domain.health.thresholds import (
    DEFINITIONS,
    Metric,
    current_thresholds,
    is_healthy,
    parse_metric,
)
from domain.health.windows import LENGTH, Dimension, Period, Window, parse_dimension, parse_period, resolve_window
from runtime.notifiers import probe_robots

if TYPE_CHECKING:
    pass
from api.graphql.health.types import (
    HealthAlert,
    HealthDrilldown,
    HealthMetricValue,
    HealthReport,
    HealthThreshold,
    HealthTrend,
    HealthTrendPoint,
    HealthTrendSeries,
    SelfCheckReport,
    health_errors,
    merchant_zone,
    threshold_of,
    to_graphql,
)


def _window(info: Info[Context, None], problems: Problems, period: str, at: datetime | None,
            start: datetime | None, end: datetime | None) -> Window | None:  # fmt: skip
    settings = info.context.runtime.settings
    return resolve_window(
        problems, merchant_zone(info), settings.retention_days, period=period, at=at, start=start, end=end
    )


@strawberry.input
class HealthInput:
    period: str = strawberry.field(default="DAY", description="HOUR or DAY: the one holding `at`.")
    at: datetime | None = strawberry.field(default=None, description="Defaults to now.")
    start: datetime | None = strawberry.field(default=None, name="from", description="With `to`: an explicit range.")
    end: datetime | None = strawberry.field(default=None, name="to")
    dimension: str = strawberry.field(default="ALL", description="ALL, CHANNEL or WAREHOUSE.")
    metrics: list[str] | None = strawberry.field(default=None, description="HealthMetric names; all five by default.")


def _metrics(names: list[str] | None, problems: Problems) -> list[Metric]:
    if names is None:
        return list(Metric)
    parsed = [parse_metric(name, ("metrics", i), problems) for i, name in enumerate(names[:10])]
    return [m for m in parsed if m is not None]


@strawberry.input
class HealthTrendInput:
    metrics: list[str] | None = strawberry.field(default=None, description="All five by default.")
    period: str = strawberry.field(default="DAY", description="HOUR or DAY.")
    count: int = strawberry.field(default=7, description="How many periods, ending with the one holding `end`.")
    end: datetime | None = strawberry.field(default=None, description="Defaults to now.")
    dimension: str = strawberry.field(default="ALL", description="ALL, CHANNEL or WAREHOUSE.")
    key: str | None = strawberry.field(default=None, description="The channel or warehouse code for CHANNEL/WAREHOUSE.")


@strawberry.input
class HealthDrilldownInput:
    period: str = strawberry.field(default="DAY", description="HOUR or DAY: the one holding `at`.")
    at: datetime | None = None
    start: datetime | None = strawberry.field(default=None, name="from")
    end: datetime | None = strawberry.field(default=None, name="to")
    channel: SalesChannel | None = None  # type: ignore[valid-type]
    warehouse_code: str | None = None


@strawberry.type
class HealthQueries:
    @strawberry.field(description="Staff: the five metrics for a period, with thresholds and verdicts.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def health(self, info: Info[Context, None], input: HealthInput | None = None) -> HealthReport:
        given = input or HealthInput()
        problems = Problems()
        window = _window(info, problems, given.period, given.at, given.start, given.end)
        dimension = parse_dimension(given.dimension, ("dimension",), problems)
        metrics = _metrics(given.metrics, problems)
        now = utcnow()
        if problems.items or window is None or dimension is None:
            return HealthReport(period=None, start=None, end=None, computed_at=now, metrics=[],
                                user_errors=health_errors(problems.items))  # fmt: skip
        async with info.context.read() as session:
            thresholds = await current_thresholds(session)
            rows = await measure_all(session, metrics, window, now, dimension)
        return HealthReport(
            period=window.period, start=window.start, end=window.end, computed_at=now,
            metrics=[HealthMetricValue.of(r, thresholds[r.metric]) for r in rows], user_errors=[],
        )  # fmt: skip

    @strawberry.field(description="Staff: each metric per period (7 days by default), from stored snapshots; a "
                      "period never computed is computed now.", extensions=allow(any_staff=True))  # fmt: skip
    async def health_trend(self, info: Info[Context, None], input: HealthTrendInput | None = None) -> HealthTrend:
        given = input or HealthTrendInput()
        problems = Problems()
        period = parse_period(given.period, ("period",), problems)
        dimension = parse_dimension(given.dimension, ("dimension",), problems)
        metrics = _metrics(given.metrics, problems)
        end = problems.aware_time(given.end, ("end",))
        retention = info.context.runtime.settings.retention_days
        if given.count < 1:
            problems.add(("count",), "ask for at least one period", HealthErrorCode.OUT_OF_RANGE)
        elif period is not None and LENGTH[period] * given.count > LENGTH[Period.DAY] * retention:
            problems.add(("count",), f"{given.count} periods reach past the {retention}-day retention window",
                         HealthErrorCode.PERIOD_TOO_LONG)  # fmt: skip
        if dimension is not None and dimension is not Dimension.ALL and not given.key:
            problems.add(("key",), f"name the {dimension.value.lower()} to follow", HealthErrorCode.REQUIRED)
        if problems.items or period is None or dimension is None:
            return HealthTrend(period=None, series=[], user_errors=health_errors(problems.items))
        windows = trend_starts(period, end or utcnow(), given.count, merchant_zone(info))
        now = utcnow()
        series = []
        async with info.context.read() as session:
            thresholds = await current_thresholds(session)
            for metric in metrics:
                key = None if dimension is Dimension.ALL else given.key
                stored = await stored_trend(session, metric, period, [w.start for w in windows], dimension, key)
                points = []
                for w in windows:
                    snap = stored.get(w.start)
                    if snap is not None:
                        points.append(HealthTrendPoint(
                            start=w.start, end=w.end, numerator=snap.numerator, denominator=snap.denominator,
                            value=snap.value, threshold=snap.threshold,
                            healthy=is_healthy(metric, snap.value, snap.threshold), computed_at=snap.computed_at,
                            stored=True))  # fmt: skip
                        continue
                    counts = await measure(session, metric, w, now, grouped=dimension is not Dimension.ALL)
                    rows = roll_up(metric, counts, dimension)
                    row = next((r for r in rows if key in (None, r.channel, r.warehouse_code)), None)
                    n, d = (row.numerator, row.denominator) if row else (0, 0)
                    value = n / d if d else None
                    points.append(HealthTrendPoint(
                        start=w.start, end=w.end, numerator=n, denominator=d, value=value,
                        threshold=thresholds[metric], healthy=is_healthy(metric, value, thresholds[metric]),
                        computed_at=None, stored=False))  # fmt: skip
                d = DEFINITIONS[metric]
                series.append(HealthTrendSeries(metric=metric, title=d.title, threshold=thresholds[metric],
                                                healthy_below=d.below, points=points))  # fmt: skip
        return HealthTrend(period=period, series=series, user_errors=[])

    @strawberry.field(description="Staff: the orders, vouchers and exceptions behind each metric for a period.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def health_drilldown(
        self, info: Info[Context, None], input: HealthDrilldownInput | None = None
    ) -> HealthDrilldown:
        given = input or HealthDrilldownInput()
        problems = Problems()
        window = _window(info, problems, given.period, given.at, given.start, given.end)
        if problems.items or window is None:
            return HealthDrilldown(scope=None, user_errors=health_errors(problems.items))
        scope = drilldown.Scope(window, (given.channel or "").strip().upper() or None, given.warehouse_code or None)
        return HealthDrilldown(scope=scope, user_errors=[])

    @strawberry.field(description="Staff: each metric's threshold, with its change history.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def health_thresholds(self, info: Info[Context, None]) -> list[HealthThreshold]:
        async with info.context.read() as session:
            thresholds = await current_thresholds(session)
        return [threshold_of(m, v) for m, v in thresholds.items()]

    @strawberry.field(description="Staff: the alerts raised now (at most one per metric).",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def health_alerts(self, info: Info[Context, None]) -> list[HealthAlert]:
        async with info.context.read() as session:
            rows = await health_alerts.open_alerts(session)
        return [
            HealthAlert(metric=Metric(r.metric), state=r.state, period=r.period, period_start=r.period_start,
                        raised_value=r.raised_value, threshold=r.threshold, raised_at=r.raised_at,
                        cleared_value=r.cleared_value, cleared_at=r.cleared_at)
            for r in rows
        ]  # fmt: skip


@strawberry.type
class SelfCheckQueries:
    @strawberry.field(
        description="Staff only (admin, ops): the configuration checklist and the shipped-without-tracking ratio "
        "of the last 7 days. Probes the alert robots with one real message.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def self_check(self, info: Info[Context, None]) -> SelfCheckReport:
        runtime = info.context.runtime
        async with info.context.read() as session:
            report = await checks.run_selfcheck(
                session, runtime.settings, utcnow(), lambda: probe_robots(runtime.settings)
            )
        return to_graphql(report)
