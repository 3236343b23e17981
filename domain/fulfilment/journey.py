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

from domain.i18n import Message, msg, render, tr
from domain.i18n.durations import format_duration
from domain.orders.models import Order, OrderEvent
from domain.orders.status import FINAL, OrderStatus

S = OrderStatus

# What the customer reads for each status, and what the next physical step is called: catalog keys, rendered in
# the reader's language when the flow or the backtrack is computed.
STEP_LABEL: dict[OrderStatus, Message] = {
    S.PENDING_PAYMENT: msg("order placed"),
    S.PAID: msg("paid"),
    S.SHIP_REQUESTED: msg("ship request"),
    S.PICKED: msg("picked"),
    S.PACKED: msg("packed"),
    S.PARTIALLY_SHIPPED: msg("partly outbound"),
    S.SHIPPED: msg("outbound"),
    S.DELIVERED: msg("signed"),
    S.COMPLETED: msg("completed"),
    S.CANCELLED: msg("cancelled"),
    S.REFUNDED: msg("refunded"),
    S.MERGED: msg("merged"),
    S.VOID: msg("void (superseded)"),
}
NEXT_STEP: dict[OrderStatus, Message] = {
    S.PENDING_PAYMENT: STEP_LABEL[S.PAID],
    S.PAID: STEP_LABEL[S.SHIP_REQUESTED],
    S.SHIP_REQUESTED: STEP_LABEL[S.SHIPPED],
    S.PICKED: STEP_LABEL[S.SHIPPED],
    S.PACKED: STEP_LABEL[S.SHIPPED],
    S.PARTIALLY_SHIPPED: STEP_LABEL[S.SHIPPED],
    S.SHIPPED: STEP_LABEL[S.DELIVERED],
    S.DELIVERED: STEP_LABEL[S.COMPLETED],
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
        return tr("{from_step} -> {to_step}", from_step=self.start.label, to_step=self.end.label)


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
        steps.append(FlowStep(status, render(STEP_LABEL[status]), event.occurred_at, event.version))
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
    next_step = None if status in FINAL else NEXT_STEP.get(status)
    waiting_for = None if next_step is None else render(next_step)
    place = where(order, operator_shown=operator_shown)
    label, took = STEP_LABEL[status], format_duration(seconds)
    if waiting_for is None:
        summary = tr("{step} {duration} ago", step=label, duration=took)
    elif place:
        summary = tr("{step} -> {next_step}: {duration}, at {place}", step=label, next_step=waiting_for,
                     duration=took, place=place)  # fmt: skip
    else:
        summary = tr("{step} -> {next_step}: {duration}", step=label, next_step=waiting_for, duration=took)
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
        text = tr("{station} ({around})", station=text, around=around) if text else around
    if order.current_operator and operator_shown:
        who = order.current_operator
        text = (
            tr("{place}, operator {operator}", place=text, operator=who)
            if text
            else tr("operator {operator}", operator=who)
        )
    return text
