"""One sale, one order: when a replay finds a sale's true channel order number, the order made under the wrong
one (an upstream fault such as Amazon's `order_id_suffix=ERR`) is superseded by the order under the right one.

The old order moves to VOID through the state machine and keeps its log; what hangs off it as the sale's (the
money received, the buyer's identity links, open cases) is re-pointed at the new order, whose log says so. The
supersession row is keyed by the old order, so a replay applied twice supersedes once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import UserError
from domain.fulfilment.models import FulfilmentEvidence, OrderException
from domain.i18n import msg
from domain.identity.models import AliasConflict, BuyerAlias, BuyerChannel, MatchSuggestion, OrderGroup
from domain.ledger.models import FundVoucher, OrderAdjustment
from domain.orders.models import Order, OrderSupersession
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import EventType, OrderStatus, TransitionRefused, decide
from domain.outbox.service import Outbox
from domain.sql import dialect


@dataclass(frozen=True)
class Superseded:
    old_order_id: int
    new_order_id: int
    vouchers: int


async def superseded_by(session: AsyncSession, order_ids: list[int]) -> dict[int, int]:
    """The order that replaced each of these, for those that were replaced."""
    query = select(OrderSupersession).where(col(OrderSupersession.old_order_id).in_(order_ids))
    return {row.old_order_id: row.new_order_id for row in (await session.exec(query)).all()}


async def supersede(
    session: AsyncSession, outbox: Outbox, old_id: int, new_id: int, by: Provenance
) -> Superseded | None:
    """Void `old_id` in favour of `new_id`; None when it was superseded before (by this replay or another)."""
    lock = dialect(session) == "postgresql"
    old = await session.get(Order, old_id, with_for_update=lock, populate_existing=True)
    new = await session.get(Order, new_id, with_for_update=lock, populate_existing=True)
    assert old is not None and new is not None and old_id != new_id
    row = {"old_order_id": old_id, "new_order_id": new_id, "inbound_message_id": by.inbound_message_id,
           "actor": by.actor, "created_at": utcnow()}  # fmt: skip
    table = OrderSupersession.__table__  # type: ignore[attr-defined]
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    claim = insert(table).values(**row).on_conflict_do_nothing(index_elements=["old_order_id"])
    if (await session.execute(claim.returning(table.c.old_order_id))).first() is None:
        return None
    try:
        status = decide(OrderStatus(old.status), EventType.ORDER_SUPERSEDED, by.source)
    except TransitionRefused as refused:
        raise UserError.one(
            ("channel_order_id",),
            msg(
                "order {channel}/{channel_order_id} is {status}: "
                "only an unshipped order is superseded by {new_channel_order_id}; {refused}",
                channel=old.channel,
                channel_order_id=old.channel_order_id,
                status=old.status,
                new_channel_order_id=new.channel_order_id,
                refused=refused.message,
            ),
            refused.code,
        ) from refused
    vouchers = await _repoint(session, old_id, new_id)
    now = utcnow()
    link = {"superseded_by": new_id, "channel_order_id": new.channel_order_id}
    await append_event(session, outbox, old, Change(EventType.ORDER_SUPERSEDED, status, now, link), by)
    await save_order(session, old, {"status": status.value})
    note = {"supersedes": old_id, "channel_order_id": old.channel_order_id, "vouchers": vouchers}
    await append_event(session, outbox, new, Change(EventType.SUPERSEDES_ORDER, OrderStatus(new.status), now, note), by)
    await save_order(session, new, {})
    await outbox.flush(session)
    return Superseded(old_id, new_id, vouchers)


async def _repoint(session: AsyncSession, old_id: int, new_id: int) -> int:
    """What belongs to the sale follows it; returns how many vouchers moved. A link the new order already holds
    (the same match suggestion, a buyer's first order on the channel) stays with the old one."""
    moved = await session.exec(update(FundVoucher).where(col(FundVoucher.order_id) == old_id).values(order_id=new_id))
    simple: list[tuple[Any, Any]] = [
        (OrderAdjustment, OrderAdjustment.order_id), (BuyerAlias, BuyerAlias.order_id),
        (AliasConflict, AliasConflict.order_id), (MatchSuggestion, MatchSuggestion.evidence_order_id),
        (BuyerChannel, BuyerChannel.first_order_id), (FulfilmentEvidence, FulfilmentEvidence.order_id),
        (OrderException, OrderException.order_id), (OrderGroup, OrderGroup.parent_order_id),
        (Order, Order.parent_order_id),
    ]  # fmt: skip
    for model, column in simple:
        await session.exec(update(model).where(col(column) == old_id).values({column.key: new_id}))
    twin = aliased(MatchSuggestion)
    held = exists().where(col(twin.order_id) == new_id, col(twin.candidate_uid) == col(MatchSuggestion.candidate_uid))
    await session.exec(
        update(MatchSuggestion).where(col(MatchSuggestion.order_id) == old_id, ~held).values(order_id=new_id)
    )
    return int(moved.rowcount or 0)
