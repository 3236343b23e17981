"""The self-check over GraphQL: the same report as `orderhub selfcheck`, for admin and ops."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.clock import utcnow
from domain.health import selfcheck as service
from runtime.notifiers import probe_robots


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


def to_graphql(report: service.Report) -> SelfCheckReport:
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
            report = await service.run_selfcheck(
                session, runtime.settings, utcnow(), lambda: probe_robots(runtime.settings)
            )
        return to_graphql(report)
