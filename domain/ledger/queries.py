"""Read side of the ledger: settlement grouped by buyer rather than by order number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger.models import OrderAdjustment
from domain.orders.models import Order

UNKNOWN_BUYER = "UNKNOWN"


@dataclass(frozen=True)
class BuyerSettlement:
    buyer_uid: str
    currency: str
    received: int
    orders: int


async def settlement_by_buyer(
    session: AsyncSession, start: datetime, end: datetime, *, after_uid: str | None = None, limit: int = 100
) -> list[BuyerSettlement]:
    """Adjustments booked in [start, end), per buyer UID and currency; keyset-paged on the UID."""
    buyer = func.coalesce(col(Order.buyer_uid), UNKNOWN_BUYER)
    statement = (
        select(buyer, OrderAdjustment.currency, func.sum(OrderAdjustment.amount),
               func.count(func.distinct(OrderAdjustment.order_id)))
        .join(Order, col(Order.id) == col(OrderAdjustment.order_id))
        .where(col(OrderAdjustment.created_at) >= start, col(OrderAdjustment.created_at) < end)
        .group_by(buyer, col(OrderAdjustment.currency))
        .order_by(buyer, col(OrderAdjustment.currency))
        .limit(limit)
    )  # fmt: skip
    if after_uid is not None:
        statement = statement.where(buyer > after_uid)
    rows = (await session.exec(statement)).all()
    return [BuyerSettlement(str(uid), str(cur), int(total or 0), int(n)) for uid, cur, total, n in rows]
