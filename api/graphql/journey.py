"""An order's journey over GraphQL: the two timelines, the backtrack, and the progress fields customers see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.auth.principal import Customer
from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.clock import utcnow
from domain.fulfilment.journey import backtrack, customer_flow, format_duration, last_stage_seconds
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
    decision: str | None
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
                occurred_at=r.occurred_at, recorded_at=r.recorded_at, decision=r.data.get("decision"), data=r.data,
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


def tracking_number(root: Any) -> str | None:
    return root.row.tracking_number  # type: ignore[no-any-return]


def carrier_code(root: Any) -> str | None:
    return root.row.carrier_code  # type: ignore[no-any-return]


def operator_shown(info: Info[Context, None]) -> bool:
    """A warehouse operator's name is personal data of the merchant's staff: customers see it only
    when the merchant allows it (ORDERHUB_SHOW_OPERATOR_TO_CUSTOMERS)."""
    return not isinstance(info.context.principal, Customer) or info.context.runtime.settings.show_operator_to_customers


def current_operator(root: Any, info: Info[Context, None]) -> str | None:
    """As the warehouse or carrier reports it."""
    return root.row.current_operator if operator_shown(info) else None  # type: ignore[no-any-return]


@strawberry.type(description="The 90% interval of a predicted time: the step should come between `low` and `high`.")
class PredictionInterval:
    low: datetime
    high: datetime


def predicted_next_at(root: Any) -> datetime | None:
    """As the prediction job stored it after the order's last move; never computed while answering."""
    return root.row.predicted_next_at  # type: ignore[no-any-return]


def predicted_next_stage(root: Any) -> OrderStatus | None:
    stage = root.row.predicted_next_stage
    return None if stage is None else OrderStatus(stage)


def predicted_next_interval(root: Any) -> PredictionInterval | None:
    low, high = root.row.predicted_low_at, root.row.predicted_high_at
    return None if low is None or high is None else PredictionInterval(low=low, high=high)


def prediction_model_version(root: Any) -> int | None:
    return root.row.prediction_model_version  # type: ignore[no-any-return]


def prediction_basis(root: Any) -> str | None:
    return root.row.prediction_basis  # type: ignore[no-any-return]


async def last_stage_duration(root: Any, info: Info[Context, None]) -> Duration | None:
    events = await info.context.loaders.events.load(root.row.id)
    seconds = last_stage_seconds(root.row, events, utcnow())
    return None if seconds is None else Duration.of(seconds)


def timeline(root: Any) -> OrderTimeline:
    return OrderTimeline(order_id=root.row.id)


async def order_backtrack(root: Any, info: Info[Context, None]) -> OrderBacktrack:
    events = await info.context.loaders.events.load(root.row.id)
    result = backtrack(root.row, events, utcnow(), operator_shown=operator_shown(info))
    stages = [
        BacktrackStage(
            label=s.label, from_status=s.start.status.value, to_status=s.end.status.value,
            started_at=s.start.at, ended_at=s.end.at, duration=Duration.of(s.seconds),
        )
        for s in result.stages
    ]  # fmt: skip
    b = result.blocking
    blocking = None
    if b is not None:
        blocking = BlockingPoint(
            status=b.status.value, since=b.since, duration=Duration.of(b.seconds), waiting_for=b.waiting_for,
            warehouse_code=b.warehouse_code, zone=b.zone, station=b.station, operator=b.operator, summary=b.summary,
        )  # fmt: skip
    return OrderBacktrack(stages=stages, blocking_point=blocking)
