"""Reads of buyer identity for staff: channel links, primary channel, suggestions, conflicts, duplicates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import hour_start
from domain.identity.models import AliasConflict, BuyerAlias, BuyerChannel, MatchSuggestion, OrderGroup
from domain.orders.models import Order, OrderLine
from domain.orders.status import OrderStatus


async def buyer_channels(session: AsyncSession, uid: str) -> list[BuyerChannel]:
    query = select(BuyerChannel).where(BuyerChannel.uid == uid).order_by(col(BuyerChannel.first_order_at))
    return list((await session.exec(query)).all())


def primary_of(links: Sequence[BuyerChannel]) -> BuyerChannel | None:
    """The channel of the largest first order, then the earliest.

    Amounts are compared in minor units within the most common currency first; a first order in
    another currency only wins when no other link exists, since fen and cents do not compare.
    """
    if not links:
        return None
    currencies = [link.currency for link in links]
    main = max(set(currencies), key=lambda c: (currencies.count(c), c == "CNY"))
    same = [link for link in links if link.currency == main]
    return min(same, key=lambda link: (-link.first_order_amount, link.first_order_at, link.channel))


async def primary_channel(session: AsyncSession, uid: str) -> BuyerChannel | None:
    """What invoices use: the primary channel's link, whose first order carries the buyer data."""
    return primary_of(await buyer_channels(session, uid))


async def buyer_aliases(session: AsyncSession, uid: str) -> list[BuyerAlias]:
    query = select(BuyerAlias).where(BuyerAlias.uid == uid).order_by(col(BuyerAlias.id))
    return list((await session.exec(query)).all())


async def suggestions(
    session: AsyncSession, status: str, first: int, after: int | None
) -> tuple[list[MatchSuggestion], bool]:
    query = select(MatchSuggestion).where(MatchSuggestion.status == status)
    if after is not None:
        query = query.where(col(MatchSuggestion.id) > after)
    rows = list((await session.exec(query.order_by(col(MatchSuggestion.id)).limit(first + 1))).all())
    return rows[:first], len(rows) > first


async def conflicts(session: AsyncSession, first: int, after: int | None) -> tuple[list[AliasConflict], bool]:
    query = select(AliasConflict)
    if after is not None:
        query = query.where(col(AliasConflict.id) > after)
    rows = list((await session.exec(query.order_by(col(AliasConflict.id)).limit(first + 1))).all())
    return rows[:first], len(rows) > first


@dataclass(frozen=True)
class ProductRate:
    sku: str
    orders: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.duplicates / self.orders if self.orders else 0.0


@dataclass
class HeatCell:
    hour: datetime
    channel: str
    orders: int = 0
    duplicates: int = 0
    products: list[ProductRate] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.duplicates / self.orders if self.orders else 0.0


async def duplicate_heatmap(
    session: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo, top: int = 5
) -> list[HeatCell]:
    """Per hour of the merchant's clock (`tz`; `HeatCell.hour` is its start, in UTC) and channel: the share of
    channel orders that were grouped as duplicates, and the products most often duplicated. Parents are
    orderhub's own rows, so they are not counted."""
    parents = select(OrderGroup.parent_order_id)
    query = select(Order.id, Order.channel, Order.placed_at, Order.status).where(
        col(Order.placed_at) >= start, col(Order.placed_at) < end, col(Order.id).not_in(parents)
    )
    orders = (await session.exec(query)).all()
    cells: dict[tuple[datetime, str], HeatCell] = {}
    order_cell: dict[int, tuple[datetime, str]] = {}
    duplicate: dict[int, bool] = {}
    for order_id, channel, placed_at, status in orders:
        assert order_id is not None
        hour = hour_start(placed_at, tz)
        cell = cells.setdefault((hour, channel), HeatCell(hour, channel))
        is_duplicate = status == OrderStatus.MERGED
        cell.orders += 1
        cell.duplicates += int(is_duplicate)
        order_cell[order_id] = (hour, channel)
        duplicate[order_id] = is_duplicate
    per_product: dict[tuple[datetime, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    ids = list(order_cell)
    for chunk in range(0, len(ids), 5000):
        lines = await session.exec(
            select(OrderLine.order_id, OrderLine.sku).where(col(OrderLine.order_id).in_(ids[chunk : chunk + 5000]))
        )
        for order_id, sku in lines.all():
            tally = per_product[order_cell[order_id]][sku]
            tally[0] += 1
            tally[1] += int(duplicate[order_id])
    for key, cell in cells.items():
        rates = [ProductRate(sku, n, d) for sku, (n, d) in per_product[key].items() if d]
        cell.products = sorted(rates, key=lambda p: (-p.rate, -p.duplicates, p.sku))[:top]
    return sorted(cells.values(), key=lambda c: (-c.rate, -c.duplicates, c.hour, c.channel))
