"""Reads of orders. A viewer restricted to one buyer is filtered inside the SQL, so a forgotten
check in a resolver cannot leak another buyer's row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from domain.orders.lookup import ids_by_reference, ids_by_tracking
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.orders.status import OrderStatus


@dataclass(frozen=True)
class Viewer:
    """`buyer_uid` set means the viewer sees that buyer's orders and nothing else; `channels` set
    means only orders of those sales channels (a partner key bound to them)."""

    buyer_uid: str | None = None
    unrestricted: bool = False
    channels: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.unrestricted and self.buyer_uid is None and self.channels is None:
            raise ValueError("a restricted viewer needs a buyer UID or channels")

    def sees(self, order: Order) -> bool:
        """The in-memory twin of `_visible`, for a row loaded once and shown to many viewers (pushes)."""
        if self.unrestricted:
            return True
        if self.channels is not None and order.channel not in self.channels:
            return False
        return self.buyer_uid is None or (order.buyer_uid is not None and order.buyer_uid == self.buyer_uid)


EVERYONE = Viewer(unrestricted=True)


@dataclass(frozen=True)
class OrderFilter:
    statuses: Sequence[str] = ()
    channels: Sequence[str] = ()
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    buyer_uid: str | None = None
    warehouse_code: str | None = None
    channel_order_id: str | None = None
    tracking_number: str | None = None
    # A phone's UIDs (one per identity key, see lookup.phone_buyers); None: any buyer, empty: none.
    buyer_uids: Sequence[str] | None = None
    # One search box: an order or tracking number, or a buyer (lookup.reference_buyers gives its UIDs).
    reference: str | None = None
    reference_buyer_uids: Sequence[str] = ()


@dataclass(frozen=True)
class PageRequest:
    """Keyset paging over ids, newest first: stable while new orders arrive."""

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None


@dataclass
class Page:
    rows: list[Order] = field(default_factory=list)
    has_next: bool = False
    has_previous: bool = False


def _visible(query: SelectOfScalar[Order], viewer: Viewer) -> SelectOfScalar[Order]:
    if viewer.unrestricted:
        return query
    if viewer.channels is not None:
        query = query.where(col(Order.channel).in_(sorted(viewer.channels)))
    if viewer.buyer_uid is not None:
        query = query.where(Order.buyer_uid == viewer.buyer_uid)
    return query


async def get_order(session: AsyncSession, viewer: Viewer, order_id: int) -> Order | None:
    query = _visible(select(Order).where(Order.id == order_id), viewer)
    return (await session.exec(query)).first()


async def get_orders(session: AsyncSession, viewer: Viewer, ids: Sequence[int]) -> dict[int, Order]:
    query = _visible(select(Order).where(col(Order.id).in_(ids)), viewer)
    return {row.id: row for row in (await session.exec(query)).all() if row.id is not None}


async def status_at(session: AsyncSession, order_id: int, version: int) -> str | None:
    """The status an order's event log records at a version; None if no such event was committed."""
    query = select(OrderEvent.status).where(OrderEvent.order_id == order_id, OrderEvent.version == version)
    return (await session.exec(query)).first()


def filtered(viewer: Viewer, filters: OrderFilter) -> SelectOfScalar[Order]:
    """The orders a viewer sees that match every filter given, unordered (the bench explains it as is)."""
    query = _visible(select(Order), viewer)
    if not viewer.unrestricted:  # a void order is a misnamed copy of one the buyer sees under its right number
        query = query.where(col(Order.status) != OrderStatus.VOID)
    if filters.statuses:
        query = query.where(col(Order.status).in_(filters.statuses))
    if filters.channels:
        query = query.where(col(Order.channel).in_(filters.channels))
    if filters.placed_from is not None:
        query = query.where(col(Order.placed_at) >= filters.placed_from)
    if filters.placed_to is not None:
        query = query.where(col(Order.placed_at) < filters.placed_to)
    if filters.buyer_uid is not None:
        query = query.where(Order.buyer_uid == filters.buyer_uid)
    if filters.warehouse_code is not None:
        query = query.where(Order.warehouse_code == filters.warehouse_code)
    if filters.channel_order_id is not None:
        query = query.where(Order.channel_order_id == filters.channel_order_id)
    if filters.tracking_number is not None:
        query = query.where(col(Order.id).in_(ids_by_tracking(filters.tracking_number)))
    if filters.buyer_uids is not None:
        query = query.where(col(Order.buyer_uid).in_(filters.buyer_uids))
    if filters.reference is not None:
        query = query.where(col(Order.id).in_(ids_by_reference(filters.reference, filters.reference_buyer_uids)))
    return query


async def list_orders(session: AsyncSession, viewer: Viewer, filters: OrderFilter, page: PageRequest) -> Page:
    query = filtered(viewer, filters)
    if page.after is not None:
        query = query.where(col(Order.id) < page.after)
    if page.before is not None:
        query = query.where(col(Order.id) > page.before)
    if page.last is not None and page.first is None:
        query = query.order_by(col(Order.id).asc()).limit(page.last + 1)
        rows = list((await session.exec(query)).all())
        more = len(rows) > page.last
        rows = list(reversed(rows[: page.last]))
        return Page(rows, has_next=page.before is not None, has_previous=more)
    size = page.first or 0
    query = query.order_by(col(Order.id).desc()).limit(size + 1)
    rows = list((await session.exec(query)).all())
    return Page(rows[:size], has_next=len(rows) > size, has_previous=page.after is not None)


async def lines_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    query = (
        select(OrderLine)
        .where(col(OrderLine.order_id).in_(order_ids))
        .order_by(col(OrderLine.order_id), col(OrderLine.line_no))
    )
    grouped: dict[int, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    for line in (await session.exec(query)).all():
        grouped[line.order_id].append(line)
    return grouped


async def events_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderEvent]]:
    query = (
        select(OrderEvent)
        .where(col(OrderEvent.order_id).in_(order_ids))
        .order_by(col(OrderEvent.order_id), col(OrderEvent.version))
    )
    grouped: dict[int, list[OrderEvent]] = {order_id: [] for order_id in order_ids}
    for event in (await session.exec(query)).all():
        grouped[event.order_id].append(event)
    return grouped
