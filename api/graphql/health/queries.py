"""What staff ask of order health: the five metrics now, their trend, the orders behind each, thresholds,
alerts and the self-check.

Query inputs name metrics, periods and dimensions as strings so that a wrong one comes back as a `userErrors`
entry naming the field and the accepted values."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.health.lead_times import FulfilmentLeadTimes, FulfilmentLeadTimesInput, LeadTimeDay
from api.graphql.health.live import Shared
from api.graphql.health.types import (
    HealthAlert,
    HealthDrilldown,
    HealthMetricValue,
    HealthReport,
    HealthThreshold,
    HealthTrend,
    HealthTrendSeries,
    SelfCheckReport,
    health_errors,
    merchant_zone,
    threshold_of,
    to_graphql,
)
from api.graphql.orders import SalesChannel
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.clock import utcnow
from domain.errors import Problems
from domain.health import alerts as health_alerts
from domain.health import drilldown, lead_times
from domain.health import selfcheck as checks
from domain.health.metrics import Measured, measure_all
from domain.health.thresholds import Metric, current_thresholds, parse_metrics
from domain.health.trend import resolve_trend, trend
from domain.health.windows import Window, parse_dimension, resolve_window
from runtime.notifiers import alert_robots, probe_robots


def _window(info: Info[Context, None], problems: Problems, period: str, at: datetime | None,
            start: datetime | None, end: datetime | None) -> Window | None:  # fmt: skip
    settings = info.context.runtime.settings
    return resolve_window(
        problems, merchant_zone(info), settings.retention_days, period=period, at=at, start=start, end=end
    )


def _shared(info: Info[Context, None]) -> Shared[tuple[datetime, list[Measured]]]:
    shared: Shared[tuple[datetime, list[Measured]]] = info.context.request.app.state.shared_health  # type: ignore[union-attr]
    return shared


@strawberry.input
class HealthInput:
    period: str = strawberry.field(
        default="DAY", description="HOUR or DAY of the merchant's clock (its time zone setting): the one holding `at`."
    )
    at: datetime | None = strawberry.field(default=None, description="Defaults to now.")
    start: datetime | None = strawberry.field(default=None, name="from", description="With `to`: an explicit range.")
    end: datetime | None = strawberry.field(default=None, name="to")
    dimension: str = strawberry.field(default="ALL", description="ALL, CHANNEL or WAREHOUSE.")
    metrics: list[str] | None = strawberry.field(default=None, description="HealthMetric names; all five by default.")


@strawberry.input
class HealthTrendInput:
    metrics: list[str] | None = strawberry.field(default=None, description="All five by default.")
    period: str = strawberry.field(
        default="DAY", description="HOUR or DAY of the merchant's clock (its time zone setting)."
    )
    count: int = strawberry.field(default=7, description="How many periods, ending with the one holding `end`.")
    end: datetime | None = strawberry.field(default=None, description="Defaults to now.")
    dimension: str = strawberry.field(default="ALL", description="ALL, CHANNEL or WAREHOUSE.")
    key: str | None = strawberry.field(default=None, description="The channel or warehouse code for CHANNEL/WAREHOUSE.")


@strawberry.input
class HealthDrilldownInput:
    period: str = strawberry.field(
        default="DAY", description="HOUR or DAY of the merchant's clock (its time zone setting): the one holding `at`."
    )
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
        metrics = parse_metrics(given.metrics, ("metrics",), problems)
        now = utcnow()
        if problems.items or window is None or dimension is None:
            return HealthReport(period=None, start=None, end=None, computed_at=now, metrics=[],
                                user_errors=health_errors(problems.items))  # fmt: skip

        async def compute() -> tuple[datetime, list[Measured]]:
            moment = utcnow()
            async with info.context.read() as session:
                return moment, await measure_all(session, metrics, window, moment, dimension)

        computed_at, rows = await _shared(info).get((window, tuple(metrics), dimension), compute)
        async with info.context.read() as session:
            thresholds = await current_thresholds(session)
        return HealthReport(
            period=window.period, start=window.start, end=window.end, computed_at=computed_at,
            metrics=[HealthMetricValue.of(r, thresholds[r.metric]) for r in rows], user_errors=[],
        )  # fmt: skip

    @strawberry.field(description="Staff: each metric per period (7 days by default), from stored snapshots; a "
                      "period never computed is computed now.", extensions=allow(any_staff=True))  # fmt: skip
    async def health_trend(self, info: Info[Context, None], input: HealthTrendInput | None = None) -> HealthTrend:
        given = input or HealthTrendInput()
        problems = Problems()
        request = resolve_trend(
            problems, merchant_zone(info), info.context.runtime.settings.retention_days, utcnow(),
            metrics=given.metrics, period=given.period, dimension=given.dimension, count=given.count,
            end=given.end, key=given.key,
        )  # fmt: skip
        if request is None:
            return HealthTrend(period=None, series=[], user_errors=health_errors(problems.items))
        async with info.context.read() as session:
            series = await trend(session, request, utcnow())
        return HealthTrend(period=request.period, series=[HealthTrendSeries.of(s) for s in series], user_errors=[])

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

    @strawberry.field(description="Staff: how long parcels took from the ship request to the outbound and from the "
                      "outbound to the delivery, per warehouse and merchant day (the day each leg ended).",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def fulfilment_lead_times(
        self, info: Info[Context, None], input: FulfilmentLeadTimesInput | None = None
    ) -> FulfilmentLeadTimes:
        given = input or FulfilmentLeadTimesInput()
        settings = info.context.runtime.settings
        problems = Problems()
        zone = merchant_zone(info)
        window = lead_times.resolve_range(problems, zone, settings.retention_days, given.start, given.end)
        if window is None:
            return FulfilmentLeadTimes(start=None, end=None, timezone=settings.merchant_timezone, days=[],
                                       user_errors=health_errors(problems.items))  # fmt: skip
        warehouse = (given.warehouse or "").strip() or None
        async with info.context.read() as session:
            rows = await lead_times.lead_times(session, window, zone, warehouse)
        return FulfilmentLeadTimes(start=window.start, end=window.end, timezone=settings.merchant_timezone,
                                   days=[LeadTimeDay.of(r) for r in rows], user_errors=[])  # fmt: skip

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
            robots = await alert_robots(runtime.core, session)
            report = await checks.run_selfcheck(session, runtime.settings, utcnow(), lambda: probe_robots(robots))
        return to_graphql(report)
