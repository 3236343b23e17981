"""The order state machine, as data: every status change goes through `decide`, tests included."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from domain.errors import ErrorCode
from domain.i18n import Message, msg
from domain.orders.errors import OrderErrorCode


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIP_REQUESTED = "SHIP_REQUESTED"
    PICKED = "PICKED"
    PACKED = "PACKED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    MERGED = "MERGED"
    VOID = "VOID"


class Source(StrEnum):
    """Who caused a change; physical statuses accept only physical sources."""

    CHANNEL = "CHANNEL"
    WMS = "WMS"
    CARRIER = "CARRIER"
    STAFF = "STAFF"
    CUSTOMER = "CUSTOMER"
    SYSTEM = "SYSTEM"


class EventType(StrEnum):
    ORDER_PLACED = "ORDER_PLACED"
    ORDER_PAID = "ORDER_PAID"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_AMENDED = "ORDER_AMENDED"
    ORDER_COMPLETED = "ORDER_COMPLETED"
    PAYMENT_OVERDUE = "PAYMENT_OVERDUE"
    SHIP_REQUESTED = "SHIP_REQUESTED"
    SHIP_REQUEST_WITHDRAWN = "SHIP_REQUEST_WITHDRAWN"
    ORDER_PICKED = "ORDER_PICKED"
    ORDER_PACKED = "ORDER_PACKED"
    ORDER_PARTIALLY_SHIPPED = "ORDER_PARTIALLY_SHIPPED"
    ORDER_SHIPPED = "ORDER_SHIPPED"
    ORDER_DELIVERED = "ORDER_DELIVERED"
    # Entries of the system log that leave the status as it is: evidence held for review, notes.
    FULFILMENT_EVIDENCE = "FULFILMENT_EVIDENCE"
    EXCEPTION_OPENED = "EXCEPTION_OPENED"
    EXCEPTION_RESOLVED = "EXCEPTION_RESOLVED"
    ORDER_MERGED = "ORDER_MERGED"
    ORDER_SPLIT = "ORDER_SPLIT"
    ORDER_SUPERSEDED = "ORDER_SUPERSEDED"
    SUPERSEDES_ORDER = "SUPERSEDES_ORDER"
    NEXT_STEP_PREDICTED = "NEXT_STEP_PREDICTED"
    CHANNEL_CONFIRMATION = "CHANNEL_CONFIRMATION"  # one attempt to tell the channel a parcel left, and its answer


S = OrderStatus

PHYSICAL_SOURCES = frozenset({Source.WMS, Source.CARRIER})
"""The only sources that may write a physical time (picked, packed, outbound, delivered)."""


@dataclass(frozen=True)
class Rule:
    event: EventType
    from_states: frozenset[OrderStatus]
    to_state: OrderStatus
    sources: frozenset[Source]
    why: str


RULES: tuple[Rule, ...] = (
    Rule(
        EventType.ORDER_PAID,
        frozenset({S.PENDING_PAYMENT}),
        S.PAID,
        frozenset({Source.CHANNEL, Source.SYSTEM}),
        "Payment is reported by the channel or by a posted payment voucher, never by a person.",
    ),
    Rule(
        EventType.ORDER_CANCELLED,
        frozenset({S.PENDING_PAYMENT, S.PAID, S.SHIP_REQUESTED}),
        S.CANCELLED,
        frozenset({Source.CHANNEL, Source.STAFF, Source.SYSTEM}),
        "Once a parcel is picked, stopping it is a return, not a cancellation.",
    ),
    Rule(
        EventType.ORDER_COMPLETED,
        frozenset({S.DELIVERED}),
        S.COMPLETED,
        frozenset({Source.CHANNEL, Source.SYSTEM}),
        "An order completes only after delivery: the channel closes it, or the system after the return window.",
    ),
    Rule(
        EventType.SHIP_REQUESTED,
        frozenset({S.PAID}),
        S.SHIP_REQUESTED,
        frozenset({Source.STAFF}),
        "A click on 'ship' is a request to the warehouse, not evidence: it moves the order only to SHIP_REQUESTED.",
    ),
    Rule(
        EventType.SHIP_REQUEST_WITHDRAWN,
        frozenset({S.SHIP_REQUESTED}),
        S.PAID,
        frozenset({Source.STAFF}),
        "A click made in error may be taken back before the warehouse touches the order; each round trip "
        "is a flip the status-drift metric counts.",
    ),
    Rule(
        EventType.ORDER_PICKED,
        frozenset({S.SHIP_REQUESTED}),
        S.PICKED,
        frozenset({Source.WMS}),
        "Only the warehouse's pick scan proves the goods left the shelf.",
    ),
    Rule(
        EventType.ORDER_PACKED,
        frozenset({S.SHIP_REQUESTED, S.PICKED}),
        S.PACKED,
        frozenset({Source.WMS}),
        "Only the warehouse's pack scan proves a parcel exists; a pick scan may be skipped by small warehouses.",
    ),
    Rule(
        EventType.ORDER_PARTIALLY_SHIPPED,
        frozenset({S.SHIP_REQUESTED, S.PICKED, S.PACKED}),
        S.PARTIALLY_SHIPPED,
        PHYSICAL_SOURCES,
        "Some of the order's parcels physically left (one warehouse of several, or a split shipment) and some "
        "goods are still to go: the same physical proof as SHIPPED, for a part of the order.",
    ),
    Rule(
        EventType.ORDER_SHIPPED,
        frozenset({S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.PARTIALLY_SHIPPED}),
        S.SHIPPED,
        PHYSICAL_SOURCES,
        "SHIPPED means every parcel physically left: a warehouse outbound confirmation or a carrier pickup scan, "
        "never a person, and only after a ship request (the stored shipped rule checks the times).",
    ),
    Rule(
        EventType.ORDER_DELIVERED,
        frozenset({S.SHIPPED}),
        S.DELIVERED,
        frozenset({Source.CARRIER}),
        "Only the carrier sees the parcel signed for; a delivery before any outbound is an exception, not a jump.",
    ),
    Rule(
        EventType.ORDER_MERGED,
        frozenset({S.PENDING_PAYMENT}),
        S.MERGED,
        frozenset({Source.SYSTEM}),
        "Only unpaid orders are grouped, and only by the grouping job: once money moved on an order, "
        "folding it into another would hide a payment; a channel or a person never groups by hand.",
    ),
    Rule(
        EventType.ORDER_SPLIT,
        frozenset({S.MERGED}),
        S.PENDING_PAYMENT,
        frozenset({Source.STAFF}),
        "Grouping is a guess about intent; a person who knows the orders were separate purchases restores them.",
    ),
    Rule(
        EventType.ORDER_SUPERSEDED,
        frozenset({S.PENDING_PAYMENT, S.PAID}),
        S.VOID,
        frozenset({Source.SYSTEM}),
        "A replay under corrected cleaning rules found the sale's true channel order number: the order made under "
        "the wrong one is void and points at the right one. Only before the warehouse is asked to act, since "
        "goods moved under the wrong number need a person; and only by the replay, never by hand.",
    ),
)

# The legal status graph: used by the machine and, later, to measure the shortest path. Every edge is one a
# rule produces (a test checks both ways); REFUNDED has none yet: a refund voucher returns money, it does not
# move the order, so no order reaches REFUNDED today.
GRAPH: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.MERGED, S.VOID}),
    S.PAID: frozenset({S.SHIP_REQUESTED, S.CANCELLED, S.VOID}),
    S.SHIP_REQUESTED: frozenset({S.PAID, S.PICKED, S.PACKED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    S.PICKED: frozenset({S.PACKED, S.PARTIALLY_SHIPPED, S.SHIPPED}),
    S.PACKED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
    S.MERGED: frozenset({S.PENDING_PAYMENT}),
    S.VOID: frozenset(),
}

FINAL = frozenset(status for status, targets in GRAPH.items() if not targets)
"""The statuses where an order's life ends: no rule moves an order out of them."""

ENDED_UNFULFILLED = FINAL - {S.COMPLETED}
"""Final statuses reached without the goods being delivered (cancelled, refunded, void): money paid to one of
these orders buys nothing and is held for a refund, while a completed order's extra payment is an overpayment."""

NOT_TO_SHIP = ENDED_UNFULFILLED | {S.MERGED}
"""Statuses in which the warehouse must not ship the order: it ended unfulfilled, or it was folded into another
order (it lives again only if staff split the group), so warehouse evidence for it is held for a person."""


class TransitionRefused(Exception):
    """`message` is the refusal as its reader reads it, in their language; str() is its English."""

    def __init__(self, message: Message, code: ErrorCode) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


def decide(current: OrderStatus, event: EventType, source: Source) -> OrderStatus:
    """Return the next status, or refuse with the reason a rule gives."""
    for rule in RULES:
        if rule.event is not event:
            continue
        if source not in rule.sources:
            raise TransitionRefused(
                msg("{event} may not come from {source}: {why}", event=event, source=source, why=rule.why),
                OrderErrorCode.SOURCE_NOT_ALLOWED,
            )
        if current not in rule.from_states:
            raise TransitionRefused(
                msg("{event} is not allowed from {current}", event=event, current=current),
                OrderErrorCode.ILLEGAL_TRANSITION,
            )
        assert rule.to_state in GRAPH[current], "a rule leaves the status graph"
        return rule.to_state
    raise TransitionRefused(msg("no rule handles {event}", event=event), OrderErrorCode.ILLEGAL_TRANSITION)


MOVES = frozenset(rule.event for rule in RULES)
"""Every rule's to-state differs from its from-states, so an event of one of these types is exactly one status
change; any other event leaves the status as it was."""
assert all(rule.to_state not in rule.from_states for rule in RULES), "a rule that keeps the status is no move"


def shortest_path_length(start: OrderStatus, end: OrderStatus) -> int | None:
    seen = {start: 0}
    queue = deque([start])
    while queue:
        status = queue.popleft()
        if status is end:
            return seen[status]
        for target in GRAPH[status]:
            if target not in seen:
                seen[target] = seen[status] + 1
                queue.append(target)
    return None


STAGE_BITS: dict[OrderStatus, int] = {S.PICKED: 1, S.PACKED: 2, S.PARTIALLY_SHIPPED: 4}
"""Fulfilment stages the graph lets an order skip (SHIP_REQUESTED -> SHIPPED is legal). One the order did enter
is a waypoint of its shortest path, so a normal pick-pack-ship flow, or one shipped in several parcels, has no
drift; the order keeps them as bits."""


def minimum_changes(first: OrderStatus, current: OrderStatus, stages_entered: int) -> int:
    """The shortest legal path from the first status to the current one through the stages entered, in flow order."""
    stops = [first, *(s for s, bit in STAGE_BITS.items() if stages_entered & bit and s is not current), current]
    total = 0
    for a, b in pairwise(stops):
        length = shortest_path_length(a, b)
        if length is None:  # a stage left behind by a later legal move: count the direct path
            return shortest_path_length(first, current) or 0
        total += length
    return total


def rank(status: OrderStatus) -> int:
    """How far along the main flow a status is; a snapshot of lower rank is stale."""
    return _FLOW.index(status) if status in _FLOW else len(_FLOW)


_FLOW = [S.PENDING_PAYMENT, S.PAID, S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED,
         S.COMPLETED]  # fmt: skip
