"""Reads of buyer identity for staff: channel links, primary channel, suggestions, conflicts, duplicates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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


class HeatCut(StrEnum):
    """What a heatmap row stands for beside its channel: nothing more, or the orders' utm_source or utm_campaign."""

    CHANNEL = "CHANNEL"
    UTM_SOURCE = "UTM_SOURCE"
    UTM_CAMPAIGN = "UTM_CAMPAIGN"


class HeatPeriod(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


async def open_groups(session: AsyncSession, first: int, after: int | None) -> tuple[list[OrderGroup], bool]:
    """Groups staff may still split: not split yet and their parent not paid, oldest first."""
    pending = select(Order.id).where(Order.status == OrderStatus.PENDING_PAYMENT)
    query = select(OrderGroup).where(col(OrderGroup.split_at).is_(None), col(OrderGroup.parent_order_id).in_(pending))
    if after is not None:
        query = query.where(col(OrderGroup.id) > after)
    rows = list((await session.exec(query.order_by(col(OrderGroup.id)).limit(first + 1))).all())
    return rows[:first], len(rows) > first


async def group_children(session: AsyncSession, parent_order_id: int) -> list[Order]:
    query = select(Order).where(Order.parent_order_id == parent_order_id).order_by(col(Order.placed_at), col(Order.id))
    return list((await session.exec(query)).all())


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
    """`hour` is the start (in UTC) of the merchant's hour or day the cell covers."""

    hour: datetime
    channel: str
    segment: str | None = None
    orders: int = 0
    merged: int = 0
    paid: int = 0
    products: list[ProductRate] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.merged + self.paid

    @property
    def rate(self) -> float:
        return self.duplicates / self.orders if self.orders else 0.0


def bucket(placed_at: datetime, tz: ZoneInfo, per: HeatPeriod) -> datetime:
    """The start of the merchant's hour or day holding the moment, in UTC: a half-hour zone's hours are not UTC's."""
    local = placed_at.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    if per == HeatPeriod.DAY:
        local = local.replace(hour=0)
    return local.astimezone(UTC)


async def paid_twice(session: AsyncSession, start: datetime, end: datetime, window_s: int) -> set[int]:
    """Orders placed in [start, end) that a buyer paid within the merge window after paying another.

    Grouping only catches duplicates still pending; a buyer who pays on two channels minutes apart
    slips past it, and that is the costlier duplicate (two parcels, a refund). Paid group parents
    count as the earlier payment; MERGED children never paid themselves.
    """
    window = timedelta(seconds=window_s)
    query = (
        select(Order.id, Order.buyer_uid, Order.placed_at)
        .where(
            col(Order.paid_at).is_not(None),
            col(Order.buyer_uid).is_not(None),
            Order.status != OrderStatus.MERGED,
            col(Order.placed_at) >= start - window,
            col(Order.placed_at) < end,
        )
        .order_by(col(Order.buyer_uid), col(Order.placed_at), col(Order.id))
    )
    found: set[int] = set()
    last: tuple[str | None, datetime | None] = (None, None)
    for order_id, uid, placed_at in (await session.exec(query)).all():
        assert order_id is not None
        before_uid, before_at = last
        if uid == before_uid and before_at is not None and placed_at - before_at <= window and placed_at >= start:
            found.add(order_id)
        last = (uid, placed_at)
    return found


async def duplicate_heatmap(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    tz: ZoneInfo | None = None,
    window_s: int = 300,
    cut: HeatCut = HeatCut.CHANNEL,
    per: HeatPeriod = HeatPeriod.HOUR,
    top: int = 5,
) -> list[HeatCell]:
    """Per merchant hour (or day), channel and, when cut, utm_source or utm_campaign: the share of orders that
    were duplicates, grouped while pending (MERGED) or paid twice, and the products most often duplicated.
    Parents are orderhub's own rows, so they are not counted."""
    zone = tz or ZoneInfo("UTC")
    parents = select(OrderGroup.parent_order_id)
    columns = (Order.id, Order.channel, Order.placed_at, Order.status, Order.utm_source, Order.utm_campaign)
    query = sa_select(*[col(c) for c in columns]).where(
        col(Order.placed_at) >= start, col(Order.placed_at) < end, col(Order.id).not_in(parents)
    )
    orders = (await session.execute(query)).all()
    twice = await paid_twice(session, start, end, window_s)
    cells: dict[tuple[datetime, str, str | None], HeatCell] = {}
    order_cell: dict[int, tuple[datetime, str, str | None]] = {}
    duplicate: dict[int, bool] = {}
    for order_id, channel, placed_at, status, utm_source, utm_campaign in orders:
        assert order_id is not None
        segment = {HeatCut.UTM_SOURCE: utm_source, HeatCut.UTM_CAMPAIGN: utm_campaign}.get(cut)
        key = (bucket(placed_at, zone, per), channel, segment)
        cell = cells.setdefault(key, HeatCell(key[0], channel, segment))
        merged, paid = status == OrderStatus.MERGED, order_id in twice
        cell.orders += 1
        cell.merged += int(merged)
        cell.paid += int(paid)
        order_cell[order_id] = key
        duplicate[order_id] = merged or paid
    per_product: dict[tuple[datetime, str, str | None], dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
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
    return sorted(cells.values(), key=lambda c: (-c.rate, -c.duplicates, c.hour, c.channel, c.segment or ""))
