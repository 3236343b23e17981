"""An order's journey as GraphQL types: durations, the two timelines, the backtrack and the prediction interval."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.fulfilment.decisions import decision_of
from domain.fulfilment.journey import customer_flow
from domain.i18n.durations import format_duration
from domain.orders.status import OrderStatus


@strawberry.type(description="A span of time, in seconds and as a person reads it.")
class Duration:
    seconds: int
    text: str

    @classmethod
    def of(cls, seconds: int) -> Duration:
        return cls(seconds=seconds, text=format_duration(seconds))


@strawberry.type(description="A step of the customer-visible status flow.")
class TimelineStep:
    status: OrderStatus
    label: str
    at: datetime
    version: int


@strawberry.type(description="One entry of the system event log: an API call, a scan, a note or a rule decision.")
class SystemLogEntry:
    version: int
    type: str
    status: str
    source: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    decision: str | None = strawberry.field(
        description="What orderhub decided, in the reader's language; `data.decision` keeps its English."
    )
    data: JSON


@strawberry.type
class OrderTimeline:
    order_id: strawberry.Private[int]

    @strawberry.field(description="Status changes as the customer sees them, oldest first (bounded by the flow).")
    async def flow(self, info: Info[Context, None]) -> list[TimelineStep]:
        events = await info.context.loaders.events.load(self.order_id)
        return [TimelineStep(status=s.status, label=s.label, at=s.at, version=s.version) for s in customer_flow(events)]

    @strawberry.field(
        description="Staff only: every event of the order, oldest first, beside the flow. Null with a "
        "FORBIDDEN error for other callers, so that the flow beside it still answers.",
        extensions=allow(any_staff=True),
    )
    async def system_log(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[SystemLogEntry] | None:
        check_page_size(first, None)
        after_version = decode_cursor(after, "log") or 0
        rows = [r for r in await info.context.loaders.events.load(self.order_id) if r.version > after_version]
        page = rows[:first]
        entries = [
            SystemLogEntry(
                version=r.version, type=r.type, status=r.status, source=r.source, actor=r.actor,
                occurred_at=r.occurred_at, recorded_at=r.recorded_at, decision=decision_of(r.data), data=r.data,
            )
            for r in page
        ]  # fmt: skip
        return connection(
            entries, [encode_cursor("log", r.version) for r in page], len(rows) > first, after_version > 0
        )


@strawberry.type(description="Time between two consecutive steps of the flow.")
class BacktrackStage:
    label: str
    from_status: str
    to_status: str
    started_at: datetime
    ended_at: datetime
    duration: Duration


@strawberry.type(description="Where the order is now, since when, and where the warehouse last saw it.")
class BlockingPoint:
    status: str
    since: datetime
    duration: Duration
    waiting_for: str | None
    warehouse_code: str | None
    zone: str | None
    station: str | None
    operator: str | None
    summary: str


@strawberry.type
class OrderBacktrack:
    stages: list[BacktrackStage]
    blocking_point: BlockingPoint | None


@strawberry.type(description="The 90% interval of a predicted time: the step should come between `low` and `high`.")
class PredictionInterval:
    low: datetime
    high: datetime
