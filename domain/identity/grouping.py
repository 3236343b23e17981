"""Grouping duplicate pending orders of one buyer under a parent order, and splitting groups again.

One buyer tapping "pay" three times, or ordering the same thing on two channels minutes apart, means
one intended purchase; shipping three parcels is the failure. The parent order stands for the purchase;
children keep their channel ids, become MERGED, and their payments land on the parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import UserError
from domain.i18n import msg
from domain.identity.errors import IdentityErrorCode
from domain.identity.models import OrderGroup
from domain.invoices import service as invoices
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.orders.service import PAYMENT_DEADLINE_JOB, Change, Provenance, append_event, publish_change, save_order
from domain.orders.status import EventType, OrderStatus, Source, decide
from domain.outbox.service import Outbox
from domain.sql import dialect, take_sqlite_write_lock

GROUPER = Provenance(Source.SYSTEM, "identity:grouping")


@dataclass(frozen=True)
class Grouped:
    parent_order_id: int
    child_ids: list[int]
    created: bool


async def lock_buyer(session: AsyncSession, uid: str) -> None:
    """Serialises grouping per buyer across processes until the transaction ends.

    Two orders of one group arriving at once give two jobs on two workers; without this both
    would see two ungrouped orders and build two parents. SQLite has one writer: a no-op write
    takes the write lock before anything is read, so the second job reads what the first wrote.
    """
    if dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(uid[:15], 16)})
    await take_sqlite_write_lock(session)


async def group_pending(
    session: AsyncSession, outbox: Outbox, order_id: int, window_s: int, deadline_s: int | None = None
) -> Grouped | None:
    """Group the order with the buyer's other pending orders within the window; None when nothing to do.

    Idempotent: a grouped, paid, split or lone order leaves everything as it is.
    """
    row = await session.get(Order, order_id)
    if row is None or row.buyer_uid is None:
        return None
    uid = row.buyer_uid
    await lock_buyer(session, uid)
    await session.refresh(row)
    if row.status != OrderStatus.PENDING_PAYMENT or row.parent_order_id is not None:
        return None
    window = timedelta(seconds=window_s)
    low, high = row.placed_at - window, row.placed_at + window
    parents = select(OrderGroup.parent_order_id)
    split = select(OrderEvent.order_id).where(OrderEvent.type == EventType.ORDER_SPLIT)
    siblings = list(
        (
            await session.exec(
                select(Order)
                .where(
                    Order.buyer_uid == uid,
                    Order.status == OrderStatus.PENDING_PAYMENT,
                    col(Order.parent_order_id).is_(None),
                    col(Order.id).not_in(parents),
                    col(Order.id).not_in(split),
                    col(Order.placed_at) >= low,
                    col(Order.placed_at) <= high,
                )
                .order_by(col(Order.placed_at), col(Order.id))
            )
        ).all()
    )
    if row.id not in {s.id for s in siblings}:
        return None  # split earlier by staff: a person's decision outranks the guess
    parent = await _open_group(session, uid, low, high)
    if parent is None and len(siblings) < 2:
        return None
    created = parent is None
    if parent is None:
        parent = await _create_parent(session, outbox, siblings, deadline_s)
    assert parent.id is not None
    for child in siblings:
        await _merge(session, outbox, child, parent.id)
    grouped = (await session.exec(select(Order).where(Order.parent_order_id == parent.id))).all()
    await invoices.derive_for_group(session, outbox, parent, list(grouped))
    await outbox.flush(session)
    return Grouped(parent.id, [c.id for c in siblings if c.id is not None], created)


async def _open_group(session: AsyncSession, uid: str, low: object, high: object) -> Order | None:
    """A still-unpaid group of this buyer with a child inside the window takes late duplicates."""
    query = (
        select(Order)
        .join(OrderGroup, col(OrderGroup.parent_order_id) == col(Order.id))
        .where(
            OrderGroup.uid == uid,
            col(OrderGroup.split_at).is_(None),
            Order.status == OrderStatus.PENDING_PAYMENT,
            col(Order.id).in_(
                select(Order.parent_order_id).where(
                    Order.buyer_uid == uid, col(Order.placed_at) >= low, col(Order.placed_at) <= high
                )
            ),
        )
        .order_by(col(Order.id))
        .limit(1)
    )
    return (await session.exec(query)).first()


async def _create_parent(session: AsyncSession, outbox: Outbox, children: list[Order], deadline_s: int | None) -> Order:
    """The parent takes the latest child's basket (the buyer's last word) and the earliest placement."""
    first, last = children[0], children[-1]
    now = utcnow()
    parent = Order(
        channel=first.channel,
        channel_order_id=f"GROUP-{first.id}",
        status=OrderStatus.PENDING_PAYMENT.value,
        buyer_uid=first.buyer_uid,
        buyer_key_version=first.buyer_key_version,
        currency=last.currency,
        items_amount=last.items_amount,
        shipping_amount=last.shipping_amount,
        discount_amount=last.discount_amount,
        total_amount=last.total_amount,
        warehouse_code=last.warehouse_code,
        placed_at=first.placed_at,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(parent)
    await session.flush()
    assert parent.id is not None
    lines = (await session.exec(select(OrderLine).where(OrderLine.order_id == last.id))).all()
    if lines:
        await session.execute(
            insert(OrderLine),
            [
                {
                    "order_id": parent.id,
                    "line_no": x.line_no,
                    "sku": x.sku,
                    "title": x.title,
                    "quantity": x.quantity,
                    "unit_price": x.unit_price,
                    "amount": x.amount,
                }
                for x in lines
            ],
        )
    await session.execute(
        insert(OrderEvent),
        [
            {
                "order_id": parent.id,
                "version": 1,
                "type": EventType.ORDER_PLACED.value,
                "status": OrderStatus.PENDING_PAYMENT.value,
                "source": GROUPER.source.value,
                "actor": GROUPER.actor,
                "occurred_at": first.placed_at,
                "recorded_at": now,
                "data": {"children": [c.id for c in children]},
            }
        ],
    )
    assert first.buyer_uid is not None
    session.add(OrderGroup(parent_order_id=parent.id, uid=first.buyer_uid, created_at=now))
    await session.flush()
    publish_change(outbox, parent.id, 1, OrderStatus.PENDING_PAYMENT, parent.buyer_uid)
    if deadline_s is not None:  # the children's deadlines no longer apply; the parent's runs from the first
        due = first.placed_at + timedelta(seconds=deadline_s)
        defer = max(0, int((due - now).total_seconds()))
        outbox.enqueue(PAYMENT_DEADLINE_JOB, {"order_id": parent.id}, defer_seconds=defer)
    return parent


async def _merge(session: AsyncSession, outbox: Outbox, child: Order, parent_id: int) -> None:
    status = decide(OrderStatus(child.status), EventType.ORDER_MERGED, GROUPER.source)
    await append_event(
        session,
        outbox,
        child,
        Change(EventType.ORDER_MERGED, status, utcnow(), {"parent_order_id": parent_id}),
        GROUPER,
    )
    await save_order(session, child, {"status": status.value, "parent_order_id": parent_id})


async def split_group(session: AsyncSession, outbox: Outbox, parent_order_id: int, actor: str) -> list[int]:
    """Staff undo a group: children return to PENDING_PAYMENT, the parent is cancelled. Refused once paid."""
    group = (await session.exec(select(OrderGroup).where(OrderGroup.parent_order_id == parent_order_id))).first()
    if group is None or group.split_at is not None:
        raise UserError.one(("parent_order_id",), msg("not an open order group"), IdentityErrorCode.NOT_A_GROUP)
    await lock_buyer(session, group.uid)
    parent = await session.get(Order, parent_order_id, populate_existing=True)
    assert parent is not None
    by = Provenance(Source.STAFF, actor)
    if parent.status != OrderStatus.PENDING_PAYMENT:
        raise UserError.one(
            ("parent_order_id",),
            msg("the group is {status}: its payment stays on it", status=parent.status),
            IdentityErrorCode.GROUP_PAID,
        )
    cancelled = decide(OrderStatus(parent.status), EventType.ORDER_CANCELLED, by.source)
    children = list((await session.exec(select(Order).where(Order.parent_order_id == parent_order_id))).all())
    for child in children:
        status = decide(OrderStatus(child.status), EventType.ORDER_SPLIT, by.source)
        change = Change(EventType.ORDER_SPLIT, status, utcnow(), {"parent_order_id": parent_order_id})
        await append_event(session, outbox, child, change, by)
        await save_order(session, child, {"status": status.value, "parent_order_id": None})
    now = utcnow()
    await append_event(
        session, outbox, parent, Change(EventType.ORDER_CANCELLED, cancelled, now, {"reason": "group split"}), by
    )
    await save_order(session, parent, {"status": cancelled.value, "cancelled_at": now})
    group.split_at, group.split_by = now, actor
    session.add(group)
    await invoices.restore_on_split(session, parent_order_id, [c.id for c in children if c.id is not None])
    await session.flush()
    await outbox.flush(session)
    return [c.id for c in children if c.id is not None]
