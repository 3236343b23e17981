"""The orders' own history as an event log: one event per fulfilment stage an order entered, from the
append-only order event log, so the same features and evaluation run on this merchant's orders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders.models import OrderEvent
from domain.orders.status import OrderStatus as S
from ml.eventlog import Event

STAGES = (S.PAID, S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.SHIPPED, S.DELIVERED)


async def order_event_log(sessions: async_sessionmaker[AsyncSession], since: datetime | None = None) -> list[Event]:
    """Stage entries in UTC, of the orders whose first stage came at or after `since` (whole orders, so no
    case starts in the middle). An event that leaves the stage unchanged (a note, a duplicate scan) is not a
    step. The warehouse of a step is the last one an event of that order named up to then, never a later one."""
    query = select(OrderEvent.order_id, OrderEvent.status, OrderEvent.occurred_at, OrderEvent.data).order_by(
        OrderEvent.order_id, OrderEvent.version
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    events: list[Event] = []
    stage: dict[int, str] = {}
    warehouse: dict[int, str] = {}
    for order_id, status, occurred_at, data in rows:
        named = _warehouse(data)
        if named:
            warehouse[order_id] = named
        if status not in STAGES or stage.get(order_id) == status:
            continue
        stage[order_id] = status
        at = occurred_at.astimezone(UTC).replace(tzinfo=None) if occurred_at.tzinfo else occurred_at
        events.append(Event(at, str(order_id), str(status), warehouse.get(order_id, "")))
    if since is None:
        return events
    cutoff = since.astimezone(UTC).replace(tzinfo=None)
    first: dict[str, datetime] = {}
    for event in events:
        first.setdefault(event.case, event.at)
    return [e for e in events if first[e.case] >= cutoff]


def _warehouse(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("warehouse_code", "warehouseCode"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    return ""
