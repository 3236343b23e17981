"""The resolvers of an order's journey fields: the progress customers see, the two timelines and the backtrack."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from strawberry.types import Info

from api.auth.principal import Customer
from api.graphql.context import Context
from api.graphql.journey.types import (
    BacktrackStage,
    BlockingPoint,
    Duration,
    OrderBacktrack,
    OrderTimeline,
    PredictionInterval,
)
from domain.clock import utcnow
from domain.fulfilment.journey import backtrack, last_stage_seconds
from domain.orders.status import OrderStatus


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
