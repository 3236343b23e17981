"""The orders' own history as an event log: one event per fulfilment stage an order entered, from the
append-only order event log, so the same features and evaluation run on this merchant's orders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders.models import Order, OrderEvent, OrderLine
from domain.orders.status import EventType
from domain.orders.status import OrderStatus as S
from ml.eventlog import Event

STAGES = (S.PAID, S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.SHIPPED, S.DELIVERED)
# Log entries that never mean the order entered a stage, even when the order's status is read beside them.
_NOT_STEPS = frozenset({EventType.FULFILMENT_EVIDENCE, EventType.NEXT_STEP_PREDICTED})


@dataclass(frozen=True)
class Basket:
    """What the order itself says from the start: the warehouse the channel assigned is known at payment,
    before any scan names it."""

    channel: str
    items: int
    lines: int
    warehouse: str = ""


async def order_event_log(sessions: async_sessionmaker[AsyncSession], since: datetime | None = None) -> list[Event]:
    """Stage entries in UTC, of the orders whose first stage came at or after `since` (whole orders, so no
    case starts in the middle). An event that leaves the stage unchanged (a note, a duplicate scan) is not a step. The
    warehouse, operator and place of a step are what an event of that order named up to then, never later."""
    query = select(OrderEvent.order_id, OrderEvent.type, OrderEvent.status, OrderEvent.occurred_at, OrderEvent.data)
    baskets = select(Order.id, *_BASKET).join(OrderLine, OrderLine.order_id == Order.id, isouter=True)
    baskets = baskets.group_by(Order.id, Order.channel, Order.warehouse_code)
    if since is not None:
        recent = select(OrderEvent.order_id).where(OrderEvent.occurred_at >= since)  # type: ignore[operator]
        query = query.where(OrderEvent.order_id.in_(recent))  # type: ignore[attr-defined]
        baskets = baskets.where(Order.id.in_(recent))  # type: ignore[union-attr]
    query = query.order_by(OrderEvent.order_id, OrderEvent.version)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
        known = {int(r[0]): _basket(r[1:]) for r in (await session.execute(baskets)).all()}
    # a week of rows becomes steps off the event loop: a worker's jobs keep running while it reloads
    return await asyncio.to_thread(_event_log, rows, known, since)


def _event_log(rows: Sequence[Any], known: dict[int, Any], since: datetime | None) -> list[Event]:
    events: list[Event] = []
    by_order: dict[int, list[Any]] = {}
    for row in rows:
        by_order.setdefault(int(row[0]), []).append(row)
    for order_id, history in by_order.items():
        events.extend(steps(order_id, history, known.get(order_id)))
    if since is None:
        return events
    cutoff = _naive_utc(since)
    first: dict[str, datetime] = {}
    for event in events:
        first.setdefault(event.case, event.at)
    return [e for e in events if first[e.case] >= cutoff]


async def order_steps(session: AsyncSession, order_id: int) -> list[Event]:
    """One order's steps so far, as `order_event_log` reads them, for serving."""
    query = select(OrderEvent.order_id, OrderEvent.type, OrderEvent.status, OrderEvent.occurred_at, OrderEvent.data)
    rows = (await session.execute(query.where(OrderEvent.order_id == order_id).order_by(OrderEvent.version))).all()
    basket = (
        await session.execute(
            select(*_BASKET)
            .join(OrderLine, OrderLine.order_id == Order.id, isouter=True)
            .where(Order.id == order_id)
            .group_by(Order.id, Order.channel, Order.warehouse_code)
        )
    ).first()
    return steps(order_id, rows, None if basket is None else _basket(basket))


_BASKET = (
    Order.channel,
    func.count(OrderLine.id),
    func.coalesce(func.sum(OrderLine.quantity), 0),
    Order.warehouse_code,
)


def _basket(row: Sequence[Any]) -> Basket:
    channel, lines, items, warehouse = row
    return Basket(str(channel), int(items), int(lines), warehouse or "")


def steps(order_id: int, history: Iterable[Sequence[Any]], basket: Basket | None) -> list[Event]:
    """(order id, type, status, occurred at, data) rows of one order in version order -> its stage entries."""
    out: list[Event] = []
    stage: str | None = None
    place: dict[str, str] = {"warehouse": basket.warehouse} if basket and basket.warehouse else {}
    for _, kind, status, occurred_at, data in history:
        if isinstance(data, dict):
            for key, value in _place(data).items():
                if value:
                    place[key] = value
        if status not in STAGES or stage == status or kind in _NOT_STEPS:
            continue
        stage = status
        out.append(
            Event(
                _naive_utc(occurred_at),
                str(order_id),
                str(status),
                place.get("warehouse", ""),
                operator=place.get("operator", ""),
                place=place.get("place", ""),
                channel=basket.channel if basket else "",
                carrier=place.get("carrier", ""),
                items=basket.items if basket else 0,
                lines=basket.lines if basket else 0,
            )
        )
    return out


def _place(data: dict[str, Any]) -> dict[str, str]:
    def text(*keys: str) -> str:
        for key in keys:
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
        return ""

    return {
        "warehouse": text("warehouse_code", "warehouseCode"),
        "operator": text("operator"),
        "place": text("station", "zone"),
        "carrier": text("carrier_code"),
    }


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
