"""Turn what a channel says about a buyer into a UID, dropping the phone right after hashing.

A usable phone decides the UID; aliases learnt from such orders let later phone-less orders find
the same buyer; a masked phone only ever raises a suggestion for a person to decide.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import UserError
from domain.i18n import msg
from domain.identity.errors import IdentityErrorCode
from domain.identity.models import (
    AliasConflict,
    AliasKind,
    BuyerAlias,
    BuyerChannel,
    MatchSuggestion,
    OrderIdentity,
    SuggestionStatus,
)
from domain.identity.phones import PhoneRejected, masked_pattern, normalize_phone
from domain.identity.uid import IdentityKey, candidate_uids, derive_uid
from domain.orders.commands import CanonicalOrder
from domain.orders.models import Order, OrderSupersession
from domain.outbox.service import Outbox
from domain.sql import dialect

GROUP_JOB = "group_pending_orders"

# What an unqualified platform buyer id is on each channel.
DEFAULT_ALIAS_KIND: dict[str, AliasKind] = {
    "TAOBAO": AliasKind.TAOBAO_OPEN_UID,
    "TMALL": AliasKind.TAOBAO_OPEN_UID,
    "DOUYIN": AliasKind.DOUYIN_OPEN_ID,
    "WECHAT_MINI": AliasKind.WECHAT_OPENID,
    "WECHAT_CHANNELS": AliasKind.WECHAT_OPENID,
    "AMAZON": AliasKind.AMAZON_BUYER_ID,
}

Alias = tuple[str, str]
OrderKey = tuple[str, str]


@dataclass(frozen=True)
class BuyerKey:
    uid: str | None
    key_version: int | None
    problem: str | None
    via: str | None = None  # PHONE or ALIAS
    candidates: tuple[str, ...] = field(default=(), repr=False)  # this phone's UID under each active key
    mask: str | None = field(default=None, repr=False)


class BuyerIdentity:
    def __init__(
        self,
        keys: list[IdentityKey],
        region: str = "CN",
        *,
        merge_window_s: int = 300,
        suggestion_window_s: int = 72 * 3600,
    ) -> None:
        if not keys:
            raise ValueError("at least one identity key is needed")
        self.keys = keys
        self.region = region
        self.merge_window_s = merge_window_s
        self.suggestion_window_s = suggestion_window_s

    @property
    def current(self) -> IdentityKey:
        return self.keys[0]

    def key_for_phone(self, phone: str | None) -> BuyerKey:
        if not phone:
            return BuyerKey(None, None, "EMPTY", mask=None)
        mask = self.mask_key(masked_pattern(phone))
        try:
            e164 = normalize_phone(phone, self.region)
        except PhoneRejected as rejected:
            return BuyerKey(None, None, rejected.code, mask=mask)
        uids = candidate_uids(e164, self.keys)
        return BuyerKey(uids[0].value, uids[0].key_version, None, "PHONE", tuple(u.value for u in uids), mask)

    def mask_key(self, pattern: str | None) -> str | None:
        """Masked patterns are kept as keyed hashes too: seven known digits narrow a number a lot."""
        if pattern is None:
            return None
        return hmac.new(self.current.secret, f"mask:v1:{pattern}".encode(), hashlib.sha256).hexdigest()

    def uid_for_e164(self, e164: str) -> str:
        return derive_uid(e164, self.current).value


def aliases_of(order: CanonicalOrder) -> list[Alias]:
    found: list[Alias] = [(kind, value) for kind, value in order.buyer_aliases if value]
    default = DEFAULT_ALIAS_KIND.get(order.channel)
    if order.platform_buyer_id and default is not None:
        found.append((default.value, order.platform_buyer_id))
    return list(dict.fromkeys(found))


async def resolve_buyers(
    session: AsyncSession, identity: BuyerIdentity, orders: Sequence[CanonicalOrder]
) -> dict[OrderKey, BuyerKey]:
    """The buyer of each order: by phone (under whichever active key already knows it), else by alias."""
    keys = {(o.channel, o.channel_order_id): identity.key_for_phone(o.buyer_phone) for o in orders}
    known = await _known_uids(session, [c for k in keys.values() for c in k.candidates])
    batch_aliases: dict[Alias, BuyerKey] = {}
    for order in orders:
        key = keys[(order.channel, order.channel_order_id)]
        if key.uid is None:
            continue
        existing = next((c for c in key.candidates if c in known), None)
        if existing is not None and existing != key.uid:
            key = BuyerKey(existing, known[existing], None, "PHONE", key.candidates, key.mask)
            keys[(order.channel, order.channel_order_id)] = key
        for alias in aliases_of(order):
            batch_aliases.setdefault(alias, key)
    wanting = [o for o in orders if keys[(o.channel, o.channel_order_id)].uid is None]
    held = await _alias_owners(session, [a for o in wanting for a in aliases_of(o)])
    for order in wanting:
        before = keys[(order.channel, order.channel_order_id)]
        for alias in aliases_of(order):
            owner = held.get(alias)
            if owner is not None:
                keys[(order.channel, order.channel_order_id)] = BuyerKey(
                    owner[0], owner[1], before.problem, "ALIAS", (), before.mask
                )
                break
            if alias in batch_aliases:
                found = batch_aliases[alias]
                keys[(order.channel, order.channel_order_id)] = BuyerKey(
                    found.uid, found.key_version, before.problem, "ALIAS", (), before.mask
                )
                break
    return keys


async def _known_uids(session: AsyncSession, uids: Sequence[str]) -> dict[str, int]:
    if not uids:
        return {}
    query = select(BuyerChannel.uid, BuyerChannel.key_version).where(col(BuyerChannel.uid).in_(set(uids)))
    return {uid: version for uid, version in (await session.exec(query)).all()}


async def _alias_owners(session: AsyncSession, aliases: Sequence[Alias]) -> dict[Alias, tuple[str, int]]:
    if not aliases:
        return {}
    wanted = set(aliases)
    # Two plain IN lists use the (kind, value) index; a row-value IN list is planned as a scan.
    query = select(BuyerAlias.kind, BuyerAlias.value, BuyerAlias.uid, BuyerAlias.key_version).where(
        col(BuyerAlias.kind).in_({kind for kind, _ in wanted}), col(BuyerAlias.value).in_({v for _, v in wanted})
    )
    rows = (await session.exec(query)).all()
    return {(kind, value): (uid, version) for kind, value, uid, version in rows if (kind, value) in wanted}


@dataclass(frozen=True)
class Sighting:
    order: CanonicalOrder
    order_id: int
    buyer: BuyerKey
    pending: bool


async def record_sightings(
    session: AsyncSession, identity: BuyerIdentity, outbox: Outbox, sightings: Sequence[Sighting]
) -> None:
    """After new orders are inserted: learn aliases, links and suggestions, and schedule grouping."""
    if not sightings:
        return
    now = utcnow()
    await _insert(
        session,
        OrderIdentity,
        [
            {
                "order_id": s.order_id,
                "channel": s.order.channel,
                "resolved_by": s.buyer.via,
                "mask_key": s.buyer.mask,
                "receiver_region": s.order.receiver_region,
                "placed_at": s.order.placed_at,
            }
            for s in sightings
        ],
        ["order_id"],
    )
    await _learn_aliases(session, [s for s in sightings if s.buyer.via == "PHONE"], now)
    await _claim_conflicts(session, [s for s in sightings if s.buyer.via == "ALIAS"], now)
    await _link_channels(session, [s for s in sightings if s.buyer.uid is not None])
    await _suggest(session, identity, [s for s in sightings if s.buyer.mask and s.order.receiver_region], now)
    for s in sightings:
        if s.pending and s.buyer.uid is not None:
            # The window runs from placement: a late-arriving order is grouped as soon as its window has passed.
            due = s.order.placed_at + timedelta(seconds=identity.merge_window_s)
            outbox.enqueue(GROUP_JOB, {"order_id": s.order_id}, defer_seconds=max(0, int((due - now).total_seconds())))


async def _learn_aliases(session: AsyncSession, sightings: Sequence[Sighting], now: datetime) -> None:
    wanted: dict[Alias, Sighting] = {}
    for s in sightings:
        for alias in aliases_of(s.order):
            wanted.setdefault(alias, s)
    if not wanted:
        return
    await _insert(
        session,
        BuyerAlias,
        [
            {
                "kind": kind,
                "value": value,
                "uid": s.buyer.uid,
                "key_version": s.buyer.key_version,
                "order_id": s.order_id,
                "created_at": now,
            }
            for (kind, value), s in wanted.items()
        ],
        ["kind", "value"],
    )
    owners = await _alias_owners(session, list(wanted))
    conflicts = []
    for s in sightings:
        for alias in aliases_of(s.order):
            held = owners[alias][0]
            if held != s.buyer.uid and held not in s.buyer.candidates:
                conflicts.append(_conflict_row(alias, held, s, now))
    await _insert(session, AliasConflict, conflicts, ["kind", "value", "claimed_uid"])


async def _claim_conflicts(session: AsyncSession, sightings: Sequence[Sighting], now: datetime) -> None:
    """An alias-only order naming ids of two different buyers: recorded, and the first id found wins."""
    owners = await _alias_owners(session, [a for s in sightings for a in aliases_of(s.order)])
    conflicts = []
    for s in sightings:
        for alias in aliases_of(s.order):
            held = owners.get(alias)
            if held is not None and held[0] != s.buyer.uid:
                conflicts.append(_conflict_row(alias, held[0], s, now))
    await _insert(session, AliasConflict, conflicts, ["kind", "value", "claimed_uid"])


def _conflict_row(alias: Alias, held: str, s: Sighting, now: datetime) -> dict[str, object]:
    return {
        "kind": alias[0],
        "value": alias[1],
        "held_uid": held,
        "claimed_uid": s.buyer.uid,
        "order_id": s.order_id,
        "created_at": now,
    }


async def _link_channels(session: AsyncSession, sightings: Sequence[Sighting]) -> None:
    """Keep the earliest order per (buyer, channel), whatever order the orders arrive in."""
    first: dict[tuple[str, str], Sighting] = {}
    for s in sightings:
        assert s.buyer.uid is not None
        key = (s.buyer.uid, s.order.channel)
        if key not in first or s.order.placed_at < first[key].order.placed_at:
            first[key] = s
    if not first:
        return
    table = BuyerChannel.__table__  # type: ignore[attr-defined]
    insert_fn = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    rows = [
        {
            "uid": uid,
            "key_version": s.buyer.key_version,
            "channel": channel,
            "first_order_id": s.order_id,
            "first_order_at": s.order.placed_at,
            "first_order_amount": s.order.total_amount,
            "currency": s.order.currency,
        }
        for (uid, channel), s in sorted(first.items())
    ]
    statement = insert_fn(table)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["uid", "channel"],
        set_={
            "first_order_id": excluded.first_order_id,
            "first_order_at": excluded.first_order_at,
            "first_order_amount": excluded.first_order_amount,
            "currency": excluded.currency,
        },
        where=excluded.first_order_at < table.c.first_order_at,
    )
    await session.execute(statement, rows)  # executemany: one compiled statement whatever the batch size


async def _suggest(
    session: AsyncSession, identity: BuyerIdentity, sightings: Sequence[Sighting], now: datetime
) -> None:
    """Same masked pattern, same receiver region, close in time: worth a person's look, no more."""
    if not sightings:
        return
    window = timedelta(seconds=identity.suggestion_window_s)
    query = select(OrderIdentity).where(
        col(OrderIdentity.mask_key).in_({s.buyer.mask for s in sightings}),
        col(OrderIdentity.placed_at) >= min(s.order.placed_at for s in sightings) - window,
        col(OrderIdentity.placed_at) <= max(s.order.placed_at for s in sightings) + window,
    )
    nearby: dict[tuple[str | None, str | None], list[OrderIdentity]] = {}
    for other in (await session.exec(query)).all():
        nearby.setdefault((other.mask_key, other.receiver_region), []).append(other)
    pairs: list[tuple[Sighting, OrderIdentity]] = []
    for s in sightings:
        for other in nearby.get((s.buyer.mask, s.order.receiver_region), []):
            close = abs(other.placed_at - s.order.placed_at) <= window
            if close and other.order_id != s.order_id and (s.buyer.uid is None) != (other.resolved_by is None):
                pairs.append((s, other))
    if not pairs:
        return
    uids = await _order_uids(session, [other.order_id for _, other in pairs])
    rows: list[dict[str, object]] = []
    for s, other in pairs:
        other_uid = uids.get(other.order_id)
        if s.buyer.uid is None and other_uid is not None:
            rows.append(_suggestion(s.order_id, other_uid, other.order_id, now))
        elif s.buyer.uid is not None and other.resolved_by is None:
            rows.append(_suggestion(other.order_id, s.buyer.uid, s.order_id, now))
    await _insert(session, MatchSuggestion, rows, ["order_id", "candidate_uid"])


async def _order_uids(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, str]:
    query = select(Order.id, Order.buyer_uid).where(col(Order.id).in_(order_ids), col(Order.buyer_uid).is_not(None))
    return {
        order_id: uid for order_id, uid in (await session.exec(query)).all() if order_id is not None and uid is not None
    }


def _suggestion(order_id: int, uid: str, evidence: int, now: datetime) -> dict[str, object]:
    return {"order_id": order_id, "candidate_uid": uid, "evidence_order_id": evidence, "created_at": now}


async def _insert(session: AsyncSession, model: type, rows: Sequence[dict[str, object]], keys: list[str]) -> None:
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert_fn = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    unique = list({tuple(r[k] for k in keys): r for r in rows}.values())
    # the rows as executemany parameters, not `.values(rows)`: a multi-row VALUES is compiled anew on every call
    await session.execute(insert_fn(table).on_conflict_do_nothing(index_elements=keys), unique)


async def payment_target(session: AsyncSession, order_id: int) -> int:
    """Where a payment for this order belongs: the group's parent for a merged child, the order that superseded a
    void one (the provider knows only the number it was paid under), else the order."""
    query = select(OrderSupersession.new_order_id).where(OrderSupersession.old_order_id == order_id)
    successor = (await session.exec(query)).first()
    if successor is not None:
        return await payment_target(session, successor)
    parent = (await session.exec(select(Order.parent_order_id).where(Order.id == order_id))).first()
    return parent if parent is not None else order_id


async def redirect_merged(session: AsyncSession, row: Order, target: str) -> Order | None:
    """A channel reporting on a merged child: its payment pays the parent; anything else changes nothing."""
    if target != "PAID" or row.parent_order_id is None:
        return None
    return await session.get(Order, row.parent_order_id)


async def decide_suggestion(session: AsyncSession, suggestion_id: int, confirm: bool, actor: str) -> MatchSuggestion:
    """Only a person turns a masked-phone hint into a match; confirming gives the order the buyer's UID."""
    suggestion = await session.get(MatchSuggestion, suggestion_id)
    if suggestion is None:
        raise UserError.one(("id",), msg("no such suggestion"), IdentityErrorCode.NOT_FOUND)
    if suggestion.status != SuggestionStatus.PENDING:
        raise UserError.one(
            ("id",), msg("already {status}", status=suggestion.status.lower()), IdentityErrorCode.ALREADY_DECIDED
        )
    order = await session.get(Order, suggestion.order_id)
    assert order is not None
    if confirm and order.buyer_uid is not None and order.buyer_uid != suggestion.candidate_uid:
        raise UserError.one(
            ("id",), msg("the order already belongs to another buyer"), IdentityErrorCode.ALREADY_MATCHED
        )
    now = utcnow()
    suggestion.status = (SuggestionStatus.CONFIRMED if confirm else SuggestionStatus.REJECTED).value
    suggestion.decided_by, suggestion.decided_at = actor, now
    session.add(suggestion)
    if confirm:
        version = await session.exec(
            select(BuyerChannel.key_version).where(BuyerChannel.uid == suggestion.candidate_uid)
        )
        order.buyer_uid, order.buyer_key_version = suggestion.candidate_uid, version.first()
        order.updated_at = now
        session.add(order)
        others = update(MatchSuggestion).where(
            col(MatchSuggestion.order_id) == order.id,
            col(MatchSuggestion.id) != suggestion.id,
            col(MatchSuggestion.status) == SuggestionStatus.PENDING.value,
        )
        await session.exec(others.values(status=SuggestionStatus.REJECTED.value, decided_by=actor, decided_at=now))
    await session.flush()
    return suggestion
