"""The traffic mirror played back: recorded channel payloads through today's rules and adapters.

A replayed message runs the handler live traffic runs (`domain/pipeline/channel.py`: decode, drift
watch, clean, normalize, apply). A dry run shows, per message, what the canonical order would become
and how that differs from what the message produced when it arrived, and is never committed; applying
re-submits through the idempotent order service, one savepoint per message so one refusal does not
undo the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels.errors import IntakeErrorCode
from domain.channels.models import ChannelIntake
from domain.channels.service import UNKNOWN, canonical_json, source_and_kind
from domain.errors import UserError
from domain.i18n import msg
from domain.intake.models import InboundMessage
from domain.intake.vault import Vault
from domain.orders.models import Order
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.orders.supersede import supersede, superseded_by
from domain.pipeline.channel import ChannelMessage, ChannelState, apply, count_drift, prepare

MAX_REPLAY = 1000


async def find_messages(
    session: AsyncSession,
    channel_name: str,
    start: datetime | None,
    end: datetime | None,
    outcome: str | None = None,
    after_id: int = 0,
    limit: int = MAX_REPLAY,
) -> list[InboundMessage]:
    channel, kind = source_and_kind(channel_name)
    if channel == UNKNOWN:
        raise UserError.one(
            ("channel",),
            msg("no adapter for channel {channel_name}", channel_name=repr(channel_name)),
            IntakeErrorCode.UNKNOWN_CHANNEL,
        )
    query = (
        select(InboundMessage)
        .where(InboundMessage.source == channel, InboundMessage.kind == kind, col(InboundMessage.id) > after_id)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    if start is not None:
        query = query.where(col(InboundMessage.received_at) >= start)
    if end is not None:
        query = query.where(col(InboundMessage.received_at) < end)
    if outcome:
        query = query.where(InboundMessage.outcome == outcome)
    return list((await session.exec(query)).all())


@dataclass
class Replayed:
    message_id: int
    received_at: datetime
    outcome_before: str
    channel_order_id: str | None = None
    rule_version: int | None = None
    would_be: dict[str, Any] | None = None
    stored: dict[str, Any] | None = None
    diff: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None
    applied: bool = False
    supersedes: str | None = None
    """The channel order number of the order this message made before, when today's rules name the sale
    differently: applying voids that order in favour of this one (domain/orders/supersede.py)."""


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    if before is None or after is None:
        return {}
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


async def replay(
    session: AsyncSession,
    vault: Vault,
    channel_name: str,
    start: datetime | None,
    end: datetime | None,
    *,
    orders: OrderService | None = None,
    actor: str = "system:replay",
) -> list[Replayed]:
    """Dry run unless `orders` is given; the caller owns the unit of work."""
    channel, _ = source_and_kind(channel_name)
    states: dict[tuple[str, str], ChannelState] = {}
    results = []
    for message in await find_messages(session, channel_name, start, end):
        assert message.id is not None
        item = Replayed(message.id, message.received_at, message.outcome)
        stored = (
            await session.exec(
                select(ChannelIntake)
                .where(ChannelIntake.inbound_message_id == message.id)
                .order_by(col(ChannelIntake.id).desc())
                .limit(1)
            )
        ).first()
        item.stored = stored.canonical if stored else None
        by = Provenance(Source.CHANNEL, actor, message.id)
        prepared = await prepare(session, ChannelMessage(message.id, channel, vault.open(message.body), by), states)
        await count_drift(session, [prepared])
        if prepared.refusal is not None or prepared.canonical is None:
            item.error = str(prepared.refusal) if prepared.refusal is None else prepared.refusal.worded()
            results.append(item)
            continue
        item.would_be = canonical_json(prepared.canonical)
        item.channel_order_id = prepared.canonical.channel_order_id
        item.rule_version = prepared.rule_version
        item.diff = diff(item.stored, item.would_be)
        old_order = await _renamed_order(session, stored, item.channel_order_id)
        item.supersedes = old_order.channel_order_id if old_order else None
        if orders is not None:
            try:
                async with session.begin_nested():
                    [order_id] = await apply(session, orders, [prepared])
                    if old_order is not None and old_order.id != order_id:
                        assert old_order.id is not None
                        system = Provenance(Source.SYSTEM, actor, message.id)
                        await supersede(session, orders.outbox, old_order.id, order_id, system)
                item.applied = True
            except UserError as error:
                item.error = error.worded()
        results.append(item)
    return results


async def _renamed_order(session: AsyncSession, stored: ChannelIntake | None, channel_order_id: str) -> Order | None:
    """The order the message made under another channel order number, unless it was superseded already."""
    if stored is None or stored.order_id is None or stored.channel_order_id == channel_order_id:
        return None
    if await superseded_by(session, [stored.order_id]):
        return None
    return await session.get(Order, stored.order_id)
