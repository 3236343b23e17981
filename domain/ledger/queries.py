"""Read side of the ledger: settlement grouped by buyer, each order's money, and what sits in suspense."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger.models import FundVoucher, OrderAdjustment, VoucherKind, VoucherStatus
from domain.money import Money
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


async def adjustments_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderAdjustment]]:
    """Each order's adjustments, oldest first; a list of orders costs one query."""
    found: dict[int, list[OrderAdjustment]] = {i: [] for i in order_ids}
    query = select(OrderAdjustment).where(col(OrderAdjustment.order_id).in_(order_ids))
    for row in (await session.exec(query.order_by(col(OrderAdjustment.id)))).all():
        found[row.order_id].append(row)
    return found


async def vouchers_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[FundVoucher]]:
    """Each order's vouchers (payments, refunds, reversals), oldest first."""
    found: dict[int, list[FundVoucher]] = {i: [] for i in order_ids}
    query = select(FundVoucher).where(col(FundVoucher.order_id).in_(order_ids))
    for row in (await session.exec(query.order_by(col(FundVoucher.id)))).all():
        assert row.order_id is not None
        found[row.order_id].append(row)
    return found


async def suspense_vouchers(session: AsyncSession, *, after_id: int | None, limit: int) -> list[FundVoucher]:
    """Confirmed payments that matched no order and still wait for a re-attach or a refund, oldest first."""
    query = select(FundVoucher).where(
        col(FundVoucher.order_id).is_(None),
        FundVoucher.kind == VoucherKind.PAYMENT,
        FundVoucher.status == VoucherStatus.CONFIRMED,
    )
    if after_id is not None:
        query = query.where(col(FundVoucher.id) > after_id)
    return list((await session.exec(query.order_by(col(FundVoucher.id)).limit(limit))).all())


@dataclass(frozen=True)
class OrderBalance:
    """What an order is due against what it received in its own currency; money in another currency is kept
    apart, never converted, so a USD payment never makes a CNY order look paid."""

    due: Money
    received: Money
    other_currencies: list[Money]

    @property
    def balance(self) -> Money:
        return Money(self.due.minor - self.received.minor, self.due.currency)

    @classmethod
    def of(cls, due: Money, adjustments: Sequence[OrderAdjustment]) -> OrderBalance:
        totals: dict[str, int] = {}
        for row in adjustments:
            totals[row.currency] = totals.get(row.currency, 0) + row.amount
        received = Money(totals.pop(due.currency, 0), due.currency)
        return cls(due, received, [Money(minor, currency) for currency, minor in sorted(totals.items())])
