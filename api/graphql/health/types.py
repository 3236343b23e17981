"""Order health's GraphQL types: metric values, trends, the drill-down lists, thresholds, alerts and the
self-check report, each built from the domain's own result."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.pagination import Connection, check_page_size, connection
from domain.clock import utcnow
from domain.errors import Problem
from domain.fulfilment.models import OrderException as ExceptionRow
from domain.health import drilldown, errors, trend
from domain.health import selfcheck as checks
from domain.health.metrics import Measured
from domain.health.thresholds import (
    DEFINITIONS,
    Metric,
    is_healthy,
    threshold_history,
)
from domain.health.windows import Dimension, Period
from domain.i18n import render, tr
from domain.reconcile.models import ReconItem as ReconItemRow

if TYPE_CHECKING:
    from api.graphql.fulfilment.exceptions import OrderException
    from api.graphql.money.types import ReconItem
    from api.graphql.orders import Order


OrderRef = Annotated["Order", strawberry.lazy("api.graphql.orders")]
ExceptionRef = Annotated["OrderException", strawberry.lazy("api.graphql.fulfilment.exceptions")]
ReconItemRef = Annotated["ReconItem", strawberry.lazy("api.graphql.money.types")]
HealthMetric = strawberry.enum(Metric, name="HealthMetric", description="The five order-health metrics.")
HealthPeriod = strawberry.enum(Period, name="HealthPeriod")


HealthDimension = strawberry.enum(
    Dimension,
    name="HealthDimension",
    description="ALL: one value; CHANNEL or WAREHOUSE: one value per channel or warehouse.",
)


HealthErrorCode = strawberry.enum(errors.HealthErrorCode, description="Why a health request was refused.")


@strawberry.type
class HealthUserError:
    field: list[str] | None
    message: str
    code: HealthErrorCode  # type: ignore[valid-type]


def health_errors(problems: list[Problem]) -> list[HealthUserError]:
    return user_errors(HealthUserError, HealthErrorCode, problems)


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
            metric=row.metric, title=render(d.title), formula=render(d.formula), dimension=row.dimension,
            channel=row.channel,
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


def merchant_zone(info: Info[Context, None]) -> ZoneInfo:
    return info.context.runtime.settings.merchant_zone


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

    @classmethod
    def of(cls, p: trend.TrendPoint) -> HealthTrendPoint:
        return cls(
            start=p.window.start, end=p.window.end, numerator=p.numerator, denominator=p.denominator, value=p.value,
            threshold=p.threshold, healthy=p.healthy, computed_at=p.computed_at, stored=p.stored,
        )  # fmt: skip


@strawberry.type
class HealthTrendSeries:
    metric: HealthMetric  # type: ignore[valid-type]
    title: str
    threshold: float
    healthy_below: bool
    points: list[HealthTrendPoint]

    @classmethod
    def of(cls, s: trend.TrendSeries) -> HealthTrendSeries:
        d = DEFINITIONS[s.metric]
        return cls(metric=s.metric, title=render(d.title), threshold=s.threshold, healthy_below=d.below,
                   points=[HealthTrendPoint.of(p) for p in s.points])  # fmt: skip


@strawberry.type
class HealthTrend:
    period: HealthPeriod | None  # type: ignore[valid-type]
    series: list[HealthTrendSeries]
    user_errors: list[HealthUserError]


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
        from api.graphql.money.types import ReconItem

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
        from api.graphql.fulfilment.exceptions import OrderException

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
        raise GraphQLError(tr("invalid cursor"), extensions={"code": "INVALID_CURSOR"}) from exc
    if not (isinstance(parts, list) and len(parts) == size + 1 and parts[0] == "health"):
        raise GraphQLError(tr("invalid cursor"), extensions={"code": "INVALID_CURSOR"})
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


def threshold_of(metric: Metric, value: float) -> HealthThreshold:
    d = DEFINITIONS[metric]
    return HealthThreshold(metric=metric, title=render(d.title), value=value, default=d.default, healthy_below=d.below)


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


@strawberry.type(description="One configuration check: pass or fail, what was found, and the one-line fix.")
class SelfCheckItem:
    key: str
    title: str
    passed: bool
    detail: str
    fix: str


@strawberry.type(description="Orders marked shipped in the window, and those without a tracking number.")
class ShippedWithoutTracking:
    shipped: int
    without_tracking: int
    ratio: float | None = strawberry.field(description="null when nothing shipped in the window")
    limit: float
    healthy: bool


@strawberry.type
class SelfCheckReport:
    generated_at: datetime
    window_from: datetime
    window_to: datetime
    shipped_without_tracking: ShippedWithoutTracking
    checks: list[SelfCheckItem]
    passed: int
    failed: int
    markdown: str = strawberry.field(description="The report as Markdown, as `orderhub selfcheck` prints it.")
    json: str = strawberry.field(description="The report as a JSON document, as `orderhub selfcheck --format json`.")


def to_graphql(report: checks.Report) -> SelfCheckReport:
    ratio = report.shipped_without_tracking
    return SelfCheckReport(
        generated_at=report.generated_at,
        window_from=report.window_start,
        window_to=report.generated_at,
        shipped_without_tracking=ShippedWithoutTracking(
            shipped=ratio.shipped,
            without_tracking=ratio.without_tracking,
            ratio=ratio.value,
            limit=ratio.limit,
            healthy=ratio.healthy,
        ),
        checks=[
            SelfCheckItem(key=c.key, title=c.title, passed=c.passed, detail=c.detail, fix=c.fix) for c in report.checks
        ],
        passed=report.passed,
        failed=len(report.failed),
        markdown=report.markdown(),
        json=report.json(),
    )
