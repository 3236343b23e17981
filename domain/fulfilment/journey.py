"""An order's two timelines and its backtrack, computed from its event log without a database.

The customer-visible flow is the list of status changes; the system log is every event. The backtrack
measures each stage between status changes and names the blocking point: the stage the order is in,
for how long, and where the warehouse last saw it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.orders.models import Order, OrderEvent
from domain.orders.status import FINAL, OrderStatus

S = OrderStatus

# What the customer reads for each status, and what the next physical step is called.
STEP_LABEL: dict[OrderStatus, str] = {
    S.PENDING_PAYMENT: "order placed",
    S.PAID: "paid",
    S.SHIP_REQUESTED: "ship request",
    S.PICKED: "picked",
    S.PACKED: "packed",
    S.PARTIALLY_SHIPPED: "partly outbound",
    S.SHIPPED: "outbound",
    S.DELIVERED: "signed",
    S.COMPLETED: "completed",
    S.CANCELLED: "cancelled",
    S.REFUNDED: "refunded",
    S.MERGED: "merged",
    S.VOID: "void (superseded)",
}
NEXT_STEP: dict[OrderStatus, str] = {
    S.PENDING_PAYMENT: "paid",
    S.PAID: "ship request",
    S.SHIP_REQUESTED: "outbound",
    S.PICKED: "outbound",
    S.PACKED: "outbound",
    S.PARTIALLY_SHIPPED: "outbound",
    S.SHIPPED: "signed",
    S.DELIVERED: "completed",
}


@dataclass(frozen=True)
class FlowStep:
    status: OrderStatus
    label: str
    at: datetime
    version: int


@dataclass(frozen=True)
class Stage:
    start: FlowStep
    end: FlowStep

    @property
    def seconds(self) -> int:
        return max(0, int((self.end.at - self.start.at).total_seconds()))

    @property
    def label(self) -> str:
        return f"{self.start.label} -> {self.end.label}"


@dataclass(frozen=True)
class BlockingPoint:
    status: OrderStatus
    since: datetime
    seconds: int
    waiting_for: str | None
    warehouse_code: str | None
    zone: str | None
    station: str | None
    operator: str | None
    summary: str


@dataclass(frozen=True)
class Backtrack:
    stages: list[Stage]
    blocking: BlockingPoint | None


def customer_flow(events: Sequence[OrderEvent]) -> list[FlowStep]:
    """Status changes only, oldest first: the curated view a buyer sees."""
    steps: list[FlowStep] = []
    for event in sorted(events, key=lambda e: e.version):
        status = S(event.status)
        if steps and steps[-1].status is status:
            continue
        steps.append(FlowStep(status, STEP_LABEL[status], event.occurred_at, event.version))
    return steps


def backtrack(order: Order, events: Sequence[OrderEvent], now: datetime, *, operator_shown: bool = True) -> Backtrack:
    """`operator_shown` False: the operator's name is left out (customers, unless the merchant allows it)."""
    flow = customer_flow(events)
    stages = [Stage(a, b) for a, b in itertools.pairwise(flow)]
    if not flow:
        return Backtrack(stages, None)
    last = flow[-1]
    status = S(order.status)
    since = order.stage_entered_at or last.at
    seconds = max(0, int((now - since).total_seconds()))
    waiting_for = None if status in FINAL else NEXT_STEP.get(status)
    place = where(order, operator_shown=operator_shown)
    if waiting_for is None:
        summary = f"{STEP_LABEL[status]} {format_duration(seconds)} ago"
    else:
        summary = f"{STEP_LABEL[status]} -> {waiting_for}: {format_duration(seconds)}" + (
            f", at {place}" if place else ""
        )
    blocking = BlockingPoint(
        status, since, seconds, waiting_for, order.warehouse_code, order.current_zone, order.current_station,
        order.current_operator if operator_shown else None, summary,
    )  # fmt: skip
    return Backtrack(stages, blocking)


def last_stage_seconds(order: Order, events: Sequence[OrderEvent], now: datetime) -> int | None:
    """How long the order has been in its stage, or how long its final stage took once it is done."""
    result = backtrack(order, events, now)
    if result.blocking is None:
        return None
    if result.blocking.waiting_for is None and result.stages:
        return result.stages[-1].seconds
    return result.blocking.seconds


def where(order: Order, *, operator_shown: bool = True) -> str:
    """'packing station B (zone P, WH-SH-01), operator Li Lei': as much as the warehouse told us."""
    around = ", ".join(p for p in (order.current_zone, order.warehouse_code) if p)
    text = order.current_station or ""
    if around:
        text = f"{text} ({around})" if text else around
    if order.current_operator and operator_shown:
        text = f"{text}, operator {order.current_operator}" if text else f"operator {order.current_operator}"
    return text


def format_duration(seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
