"""Changes to order health: computing a period now, changing a threshold, and partner systems reporting the
customer they know an order by."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.auth.principal import Partner
from api.graphql.context import Context
from api.graphql.errors import summary
from api.graphql.orders import SalesChannel
from api.graphql.permissions import allow
from domain.access.policy import Role, Scope
from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.health import alerts as health_alerts
from domain.health.customer_refs import find_order, record_customer_ref, validate_report
from domain.health.errors import HealthErrorCode
from domain.health.models import ExternalSystem
from domain.health.service import refresh
from domain.health.thresholds import (
    Metric,
    change_threshold,
)
from domain.health.windows import Period
from domain.intake.models import Outcome

if TYPE_CHECKING:
    pass
from api.graphql.health.types import (
    HealthMetric,
    HealthMetricValue,
    HealthPeriod,
    HealthReport,
    HealthThreshold,
    HealthUserError,
    OrderRef,
    health_errors,
    merchant_zone,
    threshold_of,
)
from domain.i18n import msg, tr

OPS = frozenset({Role.OPS, Role.ADMIN})


WRITE_SCOPE = {
    ExternalSystem.ERP: Scope.ERP_WRITE,
    ExternalSystem.CRM: Scope.CRM_WRITE,
    ExternalSystem.WMS: Scope.WMS_WRITE,
}


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
        done = await refresh(session, period, at, now, merchant_zone(info))
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
                                        user_errors=health_errors(problems.items))  # fmt: skip
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
        try:
            async with info.context.unit_of_work() as session:
                value = await change_threshold(
                    session, input.metric, input.threshold, by=info.context.staff_actor, reason=input.reason
                )
        except UserError as error:
            return SetHealthThresholdPayload(threshold=None, user_errors=health_errors(error.problems))
        return SetHealthThresholdPayload(
            threshold=threshold_of(Metric(input.metric.strip().upper()), value), user_errors=[]
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
            problems.add(("channel_order_id",), msg("channel order id is required"), HealthErrorCode.REQUIRED)
        if report is not None and WRITE_SCOPE[report.system].value not in principal.scopes:
            raise GraphQLError(
                tr(
                    "not allowed: reporting for {system} needs scope {scope}",
                    system=report.system,
                    scope=WRITE_SCOPE[report.system].value,
                ),
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
            await ctx.record_outcome(Outcome.REJECTED, summary(error.problems))
            return ReportOrderCustomerPayload(order_id=None, repeated=False, user_errors=health_errors(error.problems))
        return ReportOrderCustomerPayload(order_id=reported.order_id, repeated=reported.repeated, user_errors=[])
