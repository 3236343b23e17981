"""Order health over GraphQL: the five metrics now, their trend, the orders behind each, thresholds and alerts.

Channels and the period to compute are enums. Query inputs still name metrics, periods and dimensions as
strings so that a wrong one comes back as a `userErrors` entry naming the field and the accepted values.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.auth.principal import Partner, Staff
from api.graphql.context import Context
from api.graphql.errors import code_of, field_path
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.orders import SalesChannel
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.access.policy import Role, Scope
from domain.clock import utcnow
from domain.errors import Problem, Problems, UserError
from domain.fulfilment.models import OrderException as ExceptionRow
from domain.health import alerts as health_alerts
from domain.health import drilldown
from domain.health.customer_refs import find_order, record_customer_ref, validate_report
from domain.health.metrics import Measured, measure, measure_all, roll_up
from domain.health.models import ExternalSystem
from domain.health.service import refresh
from domain.health.snapshots import stored_trend, trend_starts
from domain.health.thresholds import (
    DEFINITIONS,
    Metric,
    change_threshold,
    current_thresholds,
    is_healthy,
    parse_metric,
    threshold_history,
)
from domain.health.windows import LENGTH, Dimension, Period, Window, parse_dimension, parse_period, resolve_window
from domain.intake.models import Outcome
from domain.reconcile.models import ReconItem as ReconItemRow

if TYPE_CHECKING:
    from api.graphql.exceptions import OrderException
    from api.graphql.money import ReconItem
    from api.graphql.orders import Order

OrderRef = Annotated["Order", strawberry.lazy("api.graphql.orders")]
ExceptionRef = Annotated["OrderException", strawberry.lazy("api.graphql.exceptions")]
ReconItemRef = Annotated["ReconItem", strawberry.lazy("api.graphql.money")]

HealthMetric = strawberry.enum(Metric, name="HealthMetric", description="The five order-health metrics.")
HealthPeriod = strawberry.enum(Period, name="HealthPeriod")
HealthDimension = strawberry.enum(
    Dimension,
    name="HealthDimension",
    description="ALL: one value; CHANNEL or WAREHOUSE: one value per channel or warehouse.",
)
OPS = frozenset({Role.OPS, Role.ADMIN})
WRITE_SCOPE = {
    ExternalSystem.ERP: Scope.ERP_WRITE,
    ExternalSystem.CRM: Scope.CRM_WRITE,
    ExternalSystem.WMS: Scope.WMS_WRITE,
}


@strawberry.enum(description="Why a health request was refused.")
class HealthErrorCode(Enum):
    UNKNOWN_METRIC = "UNKNOWN_METRIC"
    UNKNOWN_PERIOD = "UNKNOWN_PERIOD"
    UNKNOWN_DIMENSION = "UNKNOWN_DIMENSION"
    INVERTED_RANGE = "INVERTED_RANGE"
    PERIOD_TOO_LONG = "PERIOD_TOO_LONG"
    INVALID_TIME = "INVALID_TIME"
    REQUIRED = "REQUIRED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNCHANGED = "UNCHANGED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_VALUE = "INVALID_VALUE"
    TOO_LONG = "TOO_LONG"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    AMBIGUOUS_ORDER = "AMBIGUOUS_ORDER"
    INVALID = "INVALID"


@strawberry.type
class HealthUserError:
    field: list[str] | None
    message: str
    code: HealthErrorCode


def user_errors(problems: list[Problem]) -> list[HealthUserError]:
    return [
        HealthUserError(
            field=field_path(("input",), p), message=p.message,
            code=code_of(HealthErrorCode, p.code, HealthErrorCode.INVALID),
        )
        for p in problems
    ]  # fmt: skip


@strawberry.type(description="One metric's value for a period, overall or for one channel or warehouse.")
class HealthMetricValue:
    metric: HealthMetric  # type: ignore[valid-type]
    title: str
    formula: str
    dimension: HealthDimension  # type: ignore[valid-type]
    channel: str | None
    warehouse_code: str | None
    numerator: int
    denominator: int
    value: float | None = strawberry.field(description="numerator / denominator; null when the denominator is 0.")
    threshold: float
    healthy_below: bool = strawberry.field(description="True: healthy while value < threshold; false: value > it.")
    healthy: bool | None = strawberry.field(description="Null for an empty period.")

    @classmethod
    def of(cls, row: Measured, threshold: float) -> HealthMetricValue:
        d = DEFINITIONS[row.metric]
        return cls(
            metric=row.metric, title=d.title, formula=d.formula, dimension=row.dimension, channel=row.channel,
            warehouse_code=row.warehouse_code, numerator=row.numerator, denominator=row.denominator,
            value=row.value, threshold=threshold, healthy_below=d.below,
            healthy=is_healthy(row.metric, row.value, threshold),
        )  # fmt: skip


@strawberry.type(description="The metrics of one period, computed when asked.")
class HealthReport:
    period: HealthPeriod | None  # type: ignore[valid-type]
    start: datetime | None = strawberry.field(name="from")
    end: datetime | None = strawberry.field(name="to")
    computed_at: datetime
    metrics: list[HealthMetricValue]
    user_errors: list[HealthUserError]


def _tz(info: Info[Context, None]) -> ZoneInfo:
    return ZoneInfo(info.context.runtime.settings.merchant_timezone)


def _window(info: Info[Context, None], problems: Problems, period: str, at: datetime | None,
            start: datetime | None, end: datetime | None) -> Window | None:  # fmt: skip
    settings = info.context.runtime.settings
    return resolve_window(problems, _tz(info), settings.retention_days, period=period, at=at, start=start, end=end)


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


@strawberry.type
class HealthTrendPoint:
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    numerator: int
    denominator: int
    value: float | None
    threshold: float
    healthy: bool | None
    computed_at: datetime | None = strawberry.field(description="When the stored snapshot was computed.")
    stored: bool = strawberry.field(description="False: no snapshot existed, so the point was computed now.")


@strawberry.type
class HealthTrendSeries:
    metric: HealthMetric  # type: ignore[valid-type]
    title: str
    threshold: float
    healthy_below: bool
    points: list[HealthTrendPoint]


@strawberry.type
class HealthTrend:
    period: HealthPeriod | None  # type: ignore[valid-type]
    series: list[HealthTrendSeries]
    user_errors: list[HealthUserError]


@strawberry.input
class HealthTrendInput:
    metrics: list[str] | None = strawberry.field(default=None, description="All five by default.")
    period: str = strawberry.field(default="DAY", description="HOUR or DAY.")
    count: int = strawberry.field(default=7, description="How many periods, ending with the one holding `end`.")
    end: datetime | None = strawberry.field(default=None, description="Defaults to now.")
    dimension: str = strawberry.field(default="ALL", description="ALL, CHANNEL or WAREHOUSE.")
    key: str | None = strawberry.field(default=None, description="The channel or warehouse code for CHANNEL/WAREHOUSE.")


@strawberry.type(description="A status change: the status left, the one entered, when, and who caused it.")
class StatusFlip:
    version: int
    event_type: str
    from_status: str
    to_status: str
    occurred_at: datetime
    source: str
    actor: str


@strawberry.type
class DriftingOrder:
    order_id: strawberry.Private[int]
    drift: int = strawberry.field(description="Status changes beyond the shortest legal path.")
    status_changes: int
    minimum_changes: int
    flips: list[StatusFlip] = strawberry.field(description="Every status change, oldest first.")

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        from api.graphql.fulfilment import load_any_order

        return await load_any_order(info, self.order_id)


@strawberry.type(description="Mis-attributed orders sharing a landing URL and utm_source (null: missing).")
class MisattributionGroup:
    scope: strawberry.Private[drilldown.Scope]
    landing_url: str | None
    utm_source: str | None
    missing_utm_source: bool
    order_count: int

    @strawberry.field
    async def orders(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[OrderRef]:
        from api.graphql.orders import Order

        check_page_size(first, None)
        async with info.context.read() as session:
            page = await drilldown.misattributed_orders(
                session, self.scope, self.landing_url or "", self.utm_source or "", first, decode_cursor(after, "order")
            )
        cursors = [encode_cursor("order", o.id) for o in page.entries]
        return _connection([Order.of(o) for o in page.entries], cursors, page, after)


@strawberry.type(description="A system's record of the order's customer.")
class CustomerReport:
    system: str
    customer_id: str
    customer_grade: str | None
    reported_by: str
    reported_at: datetime
    updated_at: datetime


@strawberry.type
class IdDisagreement:
    order_id: strawberry.Private[int]
    reports: list[CustomerReport]
    differing_systems: list[str] = strawberry.field(description="The systems whose id differs from the majority.")

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        from api.graphql.fulfilment import load_any_order

        return await load_any_order(info, self.order_id)


@strawberry.type
class UnmatchedItem:
    row: strawberry.Private[ReconItemRow]
    order_id: strawberry.Private[int | None]
    provider: str
    side: str = strawberry.field(description="STATEMENT_LINE: a line without a voucher; VOUCHER: the reverse.")

    @strawberry.field
    def item(self) -> ReconItemRef:
        from api.graphql.money import ReconItem

        return ReconItem.of(self.row)

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        from api.graphql.fulfilment import load_any_order

        return await load_any_order(info, self.order_id)


@strawberry.type
class LateException:
    row: strawberry.Private[ExceptionRow]
    role: str = strawberry.field(description="The staff role that could have closed it.")
    hours_open: float = strawberry.field(description="Until resolution, or until now while open.")

    @strawberry.field
    def exception(self) -> ExceptionRef:
        from api.graphql.exceptions import OrderException

        return OrderException.of(self.row)


@strawberry.type
class LateExceptionCount:
    kind: str
    role: str
    count: int


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(["health", *parts]).encode()).decode()


def _uncursor(cursor: str | None, size: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise GraphQLError("invalid cursor", extensions={"code": "INVALID_CURSOR"}) from exc
    if not (isinstance(parts, list) and len(parts) == size + 1 and parts[0] == "health"):
        raise GraphQLError("invalid cursor", extensions={"code": "INVALID_CURSOR"})
    return list(parts[1:])


def _empty() -> Connection[Any]:
    return connection([], [], False, False)


def _connection(nodes: list[Any], cursors: list[str], page: drilldown.Page[Any], after: str | None) -> Connection[Any]:
    return connection(nodes, cursors, page.has_next, after is not None)


@strawberry.type(description="The orders behind each metric for one period; ask only for the lists you need.")
class HealthDrilldown:
    scope: strawberry.Private[drilldown.Scope | None]
    user_errors: list[HealthUserError]

    @strawberry.field(name="from")
    def start(self) -> datetime | None:
        return None if self.scope is None else self.scope.window.start

    @strawberry.field(name="to")
    def end(self) -> datetime | None:
        return None if self.scope is None else self.scope.window.end

    @strawberry.field(description="Status drift: orders with drift, most first, each with every flip.")
    async def drifting_orders(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[DriftingOrder]:
        check_page_size(first, None)
        if self.scope is None:
            return _empty()
        key = _uncursor(after, 2)
        async with info.context.read() as session:
            page = await drilldown.drifting_orders(
                session, self.scope, first, None if key is None else (key[0], key[1])
            )
        nodes = [
            DriftingOrder(
                order_id=e.order_id, drift=e.drift, status_changes=len(e.flips),
                minimum_changes=len(e.flips) - e.drift, flips=[_flip(f) for f in e.flips],
            )
            for e in page.entries
        ]  # fmt: skip
        return _connection(nodes, [_cursor(*e.key) for e in page.entries], page, after)

    @strawberry.field(description="Channel attribution: mis-attributed orders grouped by landing URL and utm_source.")
    async def misattributed(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[MisattributionGroup]:
        check_page_size(first, None)
        if self.scope is None:
            return _empty()
        key = _uncursor(after, 3)
        async with info.context.read() as session:
            page = await drilldown.misattributed_groups(
                session, self.scope, first, None if key is None else (int(key[0]), str(key[1]), str(key[2]))
            )
        nodes = [
            MisattributionGroup(
                scope=self.scope, landing_url=g.landing_url or None, utm_source=g.utm_source or None,
                missing_utm_source=not g.utm_source, order_count=g.order_count,
            )
            for g in page.entries
        ]  # fmt: skip
        return _connection(nodes, [_cursor(*g.key) for g in page.entries], page, after)

    @strawberry.field(description="Voucher match: unmatched statement lines and vouchers, largest amount first.")
    async def unmatched_vouchers(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[UnmatchedItem]:
        check_page_size(first, None)
        if self.scope is None:
            return _empty()
        key = _uncursor(after, 2)
        async with info.context.read() as session:
            page = await drilldown.unmatched_items(
                session, self.scope, first, None if key is None else (key[0], key[1])
            )
        nodes = [UnmatchedItem(row=u.item, order_id=u.order_id, provider=u.provider, side=u.side) for u in page.entries]
        return _connection(nodes, [_cursor(*u.key) for u in page.entries], page, after)

    @strawberry.field(description="ID consistency: orders whose systems name different customers.")
    async def id_disagreements(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[IdDisagreement]:
        check_page_size(first, None)
        if self.scope is None:
            return _empty()
        key = _uncursor(after, 2)
        async with info.context.read() as session:
            page = await drilldown.disagreeing_orders(
                session, self.scope, first, None if key is None else (key[0], key[1])
            )
        nodes = [
            IdDisagreement(
                order_id=d.order_id,
                reports=[
                    CustomerReport(system=x.system, customer_id=x.customer_id, customer_grade=x.customer_grade,
                                   reported_by=x.reported_by, reported_at=x.reported_at, updated_at=x.updated_at)
                    for x in d.reports
                ],
                differing_systems=d.differing_systems,
            )
            for d in page.entries
        ]  # fmt: skip
        return _connection(nodes, [_cursor(*d.key) for d in page.entries], page, after)

    @strawberry.field(description="Exception closure: exceptions not closed within 72 h, oldest first.")
    async def late_exceptions(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[LateException]:
        check_page_size(first, None)
        if self.scope is None:
            return _empty()
        async with info.context.read() as session:
            page = await drilldown.late_exceptions(
                session, self.scope, utcnow(), first, decode_cursor(after, "exception")
            )
        nodes = [LateException(row=x.exception, role=x.role.value, hours_open=x.hours_open) for x in page.entries]
        cursors = [encode_cursor("exception", x.exception.id) for x in page.entries]
        return _connection(nodes, cursors, page, after)

    @strawberry.field(
        description="Exceptions not closed within 72 h, counted by kind and the role that could close them."
    )
    async def late_exceptions_by_kind(self, info: Info[Context, None]) -> list[LateExceptionCount]:
        if self.scope is None:
            return []
        async with info.context.read() as session:
            counts = await drilldown.late_by_kind(session, self.scope, utcnow())
        return [LateExceptionCount(kind=c.kind.value, role=c.role.value, count=c.count) for c in counts]


def _flip(f: drilldown.Flip) -> StatusFlip:
    return StatusFlip(
        version=f.version, event_type=f.event.value, from_status=f.from_status.value, to_status=f.to_status.value,
        occurred_at=f.occurred_at, source=f.source, actor=f.actor,
    )  # fmt: skip


@strawberry.input
class HealthDrilldownInput:
    period: str = strawberry.field(default="DAY", description="HOUR or DAY: the one holding `at`.")
    at: datetime | None = None
    start: datetime | None = strawberry.field(default=None, name="from")
    end: datetime | None = strawberry.field(default=None, name="to")
    channel: SalesChannel | None = None  # type: ignore[valid-type]
    warehouse_code: str | None = None


@strawberry.type
class HealthThresholdChange:
    old_value: float
    new_value: float
    changed_by: str
    changed_at: datetime
    reason: str


@strawberry.type
class HealthThreshold:
    metric: HealthMetric  # type: ignore[valid-type]
    title: str
    value: float
    default: float
    healthy_below: bool

    @strawberry.field(description="Every change, newest first: who, when, the old and the new value.")
    async def history(self, info: Info[Context, None]) -> list[HealthThresholdChange]:
        async with info.context.read() as session:
            rows = await threshold_history(session, Metric(self.metric))
        return [HealthThresholdChange(old_value=r.old_value, new_value=r.new_value, changed_by=r.changed_by,
                                      changed_at=r.changed_at, reason=r.reason) for r in rows]  # fmt: skip


def _threshold(metric: Metric, value: float) -> HealthThreshold:
    d = DEFINITIONS[metric]
    return HealthThreshold(metric=metric, title=d.title, value=value, default=d.default, healthy_below=d.below)


@strawberry.type
class HealthAlert:
    metric: HealthMetric  # type: ignore[valid-type]
    state: str
    period: str
    period_start: datetime
    raised_value: float
    threshold: float
    raised_at: datetime
    cleared_value: float | None
    cleared_at: datetime | None


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
                                user_errors=user_errors(problems.items))  # fmt: skip
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
            problems.add(("count",), "ask for at least one period", "OUT_OF_RANGE")
        elif period is not None and LENGTH[period] * given.count > LENGTH[Period.DAY] * retention:
            problems.add(("count",), f"{given.count} periods reach past the {retention}-day retention window",
                         "PERIOD_TOO_LONG")  # fmt: skip
        if dimension is not None and dimension is not Dimension.ALL and not given.key:
            problems.add(("key",), f"name the {dimension.value.lower()} to follow", "REQUIRED")
        if problems.items or period is None or dimension is None:
            return HealthTrend(period=None, series=[], user_errors=user_errors(problems.items))
        windows = trend_starts(period, end or utcnow(), given.count, _tz(info))
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
            return HealthDrilldown(scope=None, user_errors=user_errors(problems.items))
        scope = drilldown.Scope(window, (given.channel or "").strip().upper() or None, given.warehouse_code or None)
        return HealthDrilldown(scope=scope, user_errors=[])

    @strawberry.field(description="Staff: each metric's threshold, with its change history.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def health_thresholds(self, info: Info[Context, None]) -> list[HealthThreshold]:
        async with info.context.read() as session:
            thresholds = await current_thresholds(session)
        return [_threshold(m, v) for m, v in thresholds.items()]

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


@strawberry.input
class ComputeHealthInput:
    period: HealthPeriod = strawberry.field(default=Period.DAY, description="The one holding `at`.")  # type: ignore[valid-type]
    at: datetime | None = None


@strawberry.type
class ComputeHealthPayload:
    report: HealthReport | None
    alerts_raised: list[HealthMetric]  # type: ignore[valid-type]
    alerts_cleared: list[HealthMetric]  # type: ignore[valid-type]
    user_errors: list[HealthUserError]


@strawberry.input
class SetHealthThresholdInput:
    metric: str
    threshold: float = strawberry.field(description="A fraction, e.g. 0.995 for 99.5%.")
    reason: str


@strawberry.type
class SetHealthThresholdPayload:
    threshold: HealthThreshold | None
    user_errors: list[HealthUserError]


@strawberry.input(
    description="A partner system's customer id (and grade) for one order. Idempotent on (order, system)."
)
class ReportOrderCustomerInput:
    system: str = strawberry.field(description="ERP, CRM or WMS; the key needs erp:write, crm:write or wms:write.")
    channel_order_id: str
    customer_id: str
    customer_grade: str | None = None
    channel: SalesChannel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Needed only when two channels share the id."
    )


@strawberry.type
class ReportOrderCustomerPayload:
    order_id: strawberry.Private[int | None]
    repeated: bool = strawberry.field(description="True when the same id and grade were already recorded.")
    user_errors: list[HealthUserError]

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        from api.graphql.fulfilment import load_any_order

        return await load_any_order(info, self.order_id)


async def compute_and_alert(
    info: Info[Context, None], period: Period, at: datetime
) -> tuple[HealthReport, list[health_alerts.Transition]]:
    now = utcnow()
    async with info.context.unit_of_work() as session:
        done = await refresh(session, period, at, now, _tz(info))
    computed = done.computed
    report = HealthReport(
        period=period, start=computed.window.start, end=computed.window.end, computed_at=now,
        metrics=[HealthMetricValue.of(r, computed.thresholds[r.metric]) for r in computed.overall()], user_errors=[],
    )  # fmt: skip
    return report, done.transitions


@strawberry.type
class HealthMutations:
    @strawberry.mutation(description="Compute and store every metric for a period now (the hourly job does the same), "
                         "raising or clearing alerts.", extensions=allow(roles=OPS))  # fmt: skip
    async def compute_health(self, info: Info[Context, None], input: ComputeHealthInput) -> ComputeHealthPayload:
        problems = Problems()
        period = Period(input.period)
        at = problems.aware_time(input.at, ("at",))
        if problems.items:
            return ComputeHealthPayload(report=None, alerts_raised=[], alerts_cleared=[],
                                        user_errors=user_errors(problems.items))  # fmt: skip
        report, transitions = await compute_and_alert(info, period, at or utcnow())
        return ComputeHealthPayload(
            report=report, alerts_raised=[t.metric for t in transitions if t.raised],
            alerts_cleared=[t.metric for t in transitions if not t.raised], user_errors=[],
        )  # fmt: skip

    @strawberry.mutation(description="Admin: change a metric's threshold; the change is recorded with who, when, "
                         "the old value and why.", extensions=allow(roles=frozenset({Role.ADMIN})))  # fmt: skip
    async def set_health_threshold(
        self, info: Info[Context, None], input: SetHealthThresholdInput
    ) -> SetHealthThresholdPayload:
        principal = info.context.principal
        assert isinstance(principal, Staff)
        try:
            async with info.context.unit_of_work() as session:
                value = await change_threshold(
                    session, input.metric, input.threshold, by=f"staff:{principal.email}", reason=input.reason
                )
        except UserError as error:
            return SetHealthThresholdPayload(threshold=None, user_errors=user_errors(error.problems))
        return SetHealthThresholdPayload(
            threshold=_threshold(Metric(input.metric.strip().upper()), value), user_errors=[]
        )

    @strawberry.mutation(
        description="A partner system reports its customer id and grade for an order.",
        extensions=allow(scopes=frozenset(WRITE_SCOPE.values())),
    )
    async def report_order_customer(
        self, info: Info[Context, None], input: ReportOrderCustomerInput
    ) -> ReportOrderCustomerPayload:
        ctx = info.context
        principal = ctx.principal
        assert isinstance(principal, Partner)
        problems = Problems()
        report = validate_report(input.system, input.customer_id, input.customer_grade, (), problems)
        if not input.channel_order_id.strip():
            problems.add(("channelOrderId",), "channel order id is required", "REQUIRED")
        if report is not None and WRITE_SCOPE[report.system].value not in principal.scopes:
            raise GraphQLError(
                f"not allowed: reporting for {report.system} needs scope {WRITE_SCOPE[report.system].value}",
                extensions={"code": "FORBIDDEN"},
            )
        try:
            problems.raise_if_any()
            assert report is not None
            async with ctx.unit_of_work() as session:
                order = await find_order(
                    session, input.channel and input.channel.value, input.channel_order_id, principal.channels
                )
                assert order.id is not None
                reported = await record_customer_ref(session, order.id, report, f"partner:{principal.name}")
                await ctx.mark_applied(session)
        except UserError as error:
            await ctx.record_outcome(Outcome.REJECTED, str(error))
            return ReportOrderCustomerPayload(order_id=None, repeated=False, user_errors=user_errors(error.problems))
        return ReportOrderCustomerPayload(order_id=reported.order_id, repeated=reported.repeated, user_errors=[])
