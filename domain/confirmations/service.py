"""Telling a channel that a parcel left: requested where an order becomes SHIPPED, sent by a job after commit.

The job reads what to send in one unit of work, calls the channel outside any transaction, and records the
answer in another. Each attempt is an entry in the order's system log. Tries again later (a new outbox row,
deferred) on answers worth another try; opens an exception on a refusal or when the attempts run out; a refused
credential parks every confirmation of its shop until new credentials are set, and alerts once."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.confirmations.answer import AGAIN, DONE, Answer, Verdict, delay_seconds
from domain.confirmations.channels import api_of
from domain.confirmations.models import (
    CONFIRM_SHIPMENT_JOB,
    ConfirmationState,
    ShipmentConfirmation,
)
from domain.confirmations.parcel import Parcel, ParcelLine
from domain.fulfilment.decisions import logged
from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import ExceptionKind
from domain.fulfilment.parcels import parcels_of_order
from domain.i18n import Message, msg
from domain.i18n.stored import render_sentence, stored_sentences
from domain.intake.vault import Vault
from domain.orders.models import Order, OrderLine
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import EventType, OrderStatus, Source
from domain.outbox.service import Outbox
from domain.shops.credentials import Credentials, open_sealed
from domain.shops.models import Shop
from domain.shops.service import refuse_credentials
from domain.sql import dialect, insert_ignore

S = ConfirmationState


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    cap_seconds: float


def pick_shop(shops: list[Shop], shop_code: str | None) -> Shop | None:
    """The shop the order names; an order that names none belongs to its channel's only shop, if it has one."""
    if shop_code:
        return next((shop for shop in shops if shop.code == shop_code), None)
    return shops[0] if len(shops) == 1 else None


async def request_confirmation(
    session: AsyncSession, outbox: Outbox, order: Order, *, partial: bool = False
) -> list[int]:
    """Once per (order, tracking number), for a channel orderhub confirms to and where the merchant has registered a
    shop (a merchant whose bridge confirms shipments registers none). A channel told per parcel gets one row per
    parcel's tracking number, each as its parcel leaves (`partial`: the order is not all out yet); any other
    channel one row, once the order is SHIPPED, whose call lists every parcel. Returns the new rows' ids."""
    api = api_of(order.channel)
    if order.id is None or api is None or (partial and not api.per_parcel):
        return []
    trackings = await _trackings(session, order)
    if not api.per_parcel:
        trackings = trackings[:1]
    if not trackings:
        return []
    shops = list((await session.exec(select(Shop).where(Shop.channel == order.channel).order_by(col(Shop.id)))).all())
    if not shops:
        return []
    shop = pick_shop(shops, order.shop_code)
    made = []
    for tracking, carrier in trackings:
        new_id = await _request(session, outbox, order, order.id, shop, len(shops), tracking, carrier)
        if new_id is not None:
            made.append(new_id)
    return made


async def _trackings(session: AsyncSession, order: Order) -> list[tuple[str, str | None]]:
    """The tracking numbers of the order's parcels, in the order they left, when it leaves in several (or one
    of several is out); else the order's own."""
    assert order.id is not None
    left = [(p.tracking_number, p.carrier_code or order.carrier_code)
            for p in await parcels_of_order(session, order.id) if p.tracking_number]  # fmt: skip
    if len(left) >= 2 or OrderStatus(order.status) is OrderStatus.PARTIALLY_SHIPPED or not order.tracking_number:
        return left
    return [(order.tracking_number, order.carrier_code)]


async def _request(
    session: AsyncSession, outbox: Outbox, order: Order, order_id: int, shop: Shop | None, shops: int,
    tracking: str, carrier: str | None,
) -> int | None:  # fmt: skip
    now = utcnow()
    values: dict[str, Any] = {
        "order_id": order_id, "tracking_number": tracking, "carrier_code": carrier,
        "channel": order.channel, "shop_id": shop.id if shop else None,
        "state": (S.PENDING if shop else S.NO_SHOP).value, "attempts": 0, "created_at": now, "updated_at": now,
    }  # fmt: skip
    new_id = await insert_ignore(session, ShipmentConfirmation, values, ("order_id", "tracking_number"))
    if new_id is None:
        return None
    if shop is None:
        named = (
            msg("shop {code}, which is not registered", code=repr(order.shop_code))
            if order.shop_code
            else msg("no shop")
        )
        await open_exception(
            session, outbox, ExceptionKind.SHIPMENT_NOT_CONFIRMED,
            msg(
                "{channel} has {shops} shops and the order names {named}: the shipment was not confirmed",
                channel=order.channel, shops=shops, named=named,
            ),
            order_id=order_id, dedup_key=f"confirmation:{new_id}", details={"code": "NO_SHOP"},
        )  # fmt: skip
    else:
        outbox.enqueue(CONFIRM_SHIPMENT_JOB, {"confirmation_id": new_id})
    return new_id


@dataclass(frozen=True)
class Call:
    """One attempt, as read before the call: what to send and with which credentials."""

    confirmation_id: int
    attempt: int
    channel: str
    parcel: Parcel
    credentials: Credentials


async def prepare_call(session: AsyncSession, vault: Vault, confirmation_id: int) -> Call | None:
    """The next attempt of a pending confirmation, or None when there is nothing to send now (already answered,
    or its shop has no usable credentials: then it waits for them)."""
    row = await session.get(ShipmentConfirmation, confirmation_id)
    if row is None or row.state != S.PENDING or row.shop_id is None:
        return None
    shop = await session.get(Shop, row.shop_id)
    order = await session.get(Order, row.order_id)
    if shop is None or order is None:
        return None
    if shop.credentials is None or shop.credentials_refused_at is not None:
        await _set(session, row, {"state": S.WAITING_FOR_CREDENTIALS.value})
        return None
    parcel = await _parcel(session, order, row)
    return Call(confirmation_id, row.attempts + 1, row.channel, parcel, open_sealed(vault, shop.credentials))


async def _parcel(session: AsyncSession, order: Order, row: ShipmentConfirmation) -> Parcel:
    """What the channel is told: to a channel told per parcel, of this parcel with the lines it carries (the whole
    order when it left in one, or its parcels name no lines); to any other, of every parcel in one call."""
    assert order.id is not None
    api = api_of(row.channel)
    left = [p for p in await parcels_of_order(session, order.id) if p.tracking_number]
    lines = (
        await session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.line_no)))
    ).all()
    whole = tuple(ParcelLine(line.sku, line.quantity) for line in lines)
    mine = next((p for p in left if p.tracking_number == row.tracking_number), None)
    base = Parcel(order.channel_order_id, row.tracking_number, row.carrier_code, order.shipped_at, whole)
    told_once = api is not None and not api.per_parcel
    if told_once and len(left) >= 2:
        others = tuple((p.tracking_number, p.carrier_code or row.carrier_code)
                       for p in left if p.tracking_number and p.tracking_number != row.tracking_number)  # fmt: skip
        return replace(base, others=others)
    several = len(left) >= 2 or OrderStatus(order.status) is OrderStatus.PARTIALLY_SHIPPED
    if told_once or mine is None or not several:
        return base
    carried = tuple(ParcelLine(str(i["sku"]), int(i["quantity"])) for i in mine.items or [])
    return replace(
        base, shipped_at=mine.shipped_at or order.shipped_at, lines=carried or whole, split=True,
        number=left.index(mine) + 1,
    )  # fmt: skip


async def record_answer(
    session: AsyncSession, outbox: Outbox, call: Call, answer: Answer, policy: RetryPolicy, now: datetime | None = None
) -> S | None:
    """Writes what the attempt came to; None when another run of the same attempt recorded it first."""
    lock = dialect(session) == "postgresql"
    row = await session.get(ShipmentConfirmation, call.confirmation_id, with_for_update=lock)
    if row is None or row.state != S.PENDING or row.attempts != call.attempt - 1:
        return None
    order = await session.get(Order, row.order_id, with_for_update=lock)
    assert order is not None and order.id is not None
    now = now or utcnow()
    state, delay = _decide(answer, call.attempt, policy)
    data = {
        "channel": row.channel, "tracking_number": row.tracking_number, "attempt": call.attempt,
        "verdict": answer.verdict.value, "code": answer.code, "message": answer.message, "state": state.value,
        "retry_in_seconds": delay, **logged(_decision(row.channel, call.attempt, answer, state, delay)),
    }  # fmt: skip
    by = Provenance(Source.SYSTEM, f"channel:{row.channel.lower()}")
    await append_event(
        session, outbox, order, Change(EventType.CHANNEL_CONFIRMATION, OrderStatus(order.status), now, data), by
    )
    await save_order(session, order, {})
    values: dict[str, Any] = {"state": state.value, "attempts": call.attempt, "last_code": answer.code,
                              "last_message": answer.message,
                              "sentences": stored_sentences(last_message=answer.ours)}  # fmt: skip
    if state is S.CONFIRMED:
        values["confirmed_at"] = now
    await _set(session, row, values)
    if delay is not None:
        outbox.enqueue(CONFIRM_SHIPMENT_JOB, {"confirmation_id": row.id}, defer_seconds=delay)
    elif answer.verdict is Verdict.CREDENTIALS_REFUSED and row.shop_id is not None:
        await refuse_credentials(session, outbox, row.shop_id, f"{answer.code}: {answer.message}")
    elif state in (S.REFUSED, S.GAVE_UP):
        await _open(session, outbox, row, order.id, answer, state)
    await outbox.flush(session)
    return state


def last_message_of(row: ShipmentConfirmation) -> str | None:
    """The last answer's words: the channel's as it gave them, or orderhub's (a timeout, a bare 429) in the
    reader's language."""
    if row.last_message is None:
        return None
    return render_sentence(row.sentences, "last_message", row.last_message)


def _decision(channel: str, attempt: int, answer: Answer, state: S, delay: int | None) -> Message:
    """The system log's line for the attempt, as staff read it: the channel's words as it gave them, orderhub's
    own (a timeout, a bare 429) in the reader's language."""
    then = msg("again in {seconds} s", seconds=delay) if delay is not None else state.value
    told = {"channel": channel, "attempt": attempt, "verdict": answer.verdict.value, "code": answer.code, "then": then}
    if not answer.message:
        return msg("shipment confirmation to {channel}, attempt {attempt}: {verdict} {code}; {then}", **told)
    said = answer.ours if answer.ours is not None and len(answer.message) <= 120 else answer.message[:120]
    return msg("shipment confirmation to {channel}, attempt {attempt}: {verdict} {code} ({said}); {then}", **told,
               said=said)  # fmt: skip


def _decide(answer: Answer, attempt: int, policy: RetryPolicy) -> tuple[S, int | None]:
    if answer.verdict in DONE:
        return S.CONFIRMED, None
    if answer.verdict is Verdict.CREDENTIALS_REFUSED:
        return S.WAITING_FOR_CREDENTIALS, None
    if answer.verdict in AGAIN:
        if attempt >= policy.max_attempts:
            return S.GAVE_UP, None
        return S.PENDING, math.ceil(delay_seconds(answer, attempt, policy.base_seconds, policy.cap_seconds))
    return S.REFUSED, None


async def _open(
    session: AsyncSession, outbox: Outbox, row: ShipmentConfirmation, order_id: int, answer: Answer, state: S
) -> None:
    if state is S.REFUSED:
        kind = ExceptionKind.SHIPMENT_CONFIRMATION_REFUSED
        summary = msg(
            "{channel} refused the shipment confirmation: {code} {reason}",
            channel=row.channel,
            code=answer.code,
            reason=answer.ours or answer.message,
        )
    else:
        kind = ExceptionKind.SHIPMENT_NOT_CONFIRMED
        summary = msg(
            "{channel} did not confirm the shipment after {attempts} attempts; last: {code}",
            channel=row.channel,
            attempts=row.attempts,
            code=answer.code,
        )
    details = {"code": answer.code, "message": answer.message, "tracking_number": row.tracking_number,
               "attempts": row.attempts, "confirmation_id": row.id}  # fmt: skip
    await open_exception(
        session, outbox, kind, summary, order_id=order_id, dedup_key=f"confirmation:{row.id}", details=details
    )


async def _set(session: AsyncSession, row: ShipmentConfirmation, values: dict[str, Any]) -> None:
    values = {**values, "updated_at": utcnow()}
    await session.exec(update(ShipmentConfirmation).where(col(ShipmentConfirmation.id) == row.id).values(**values))
    for name, value in values.items():
        set_committed_value(row, name, value)


async def resume_shop(session: AsyncSession, outbox: Outbox, shop_id: int) -> int:
    """New credentials: every confirmation that waited for them is sent again. Returns how many."""
    statement = (
        update(ShipmentConfirmation)
        .where(
            col(ShipmentConfirmation.shop_id) == shop_id, col(ShipmentConfirmation.state) == S.WAITING_FOR_CREDENTIALS
        )
        .values(state=S.PENDING.value, updated_at=utcnow())
        .returning(col(ShipmentConfirmation.id))
    )
    ids = list((await session.execute(statement)).scalars().all())
    for confirmation_id in ids:
        outbox.enqueue(CONFIRM_SHIPMENT_JOB, {"confirmation_id": confirmation_id})
    await outbox.flush(session)
    return len(ids)


async def requeue_stalled(session: AsyncSession, outbox: Outbox, older_than: timedelta) -> int:
    """Pending confirmations that nothing touched for longer than any back-off get their job again: an arq job that
    failed for good (its tries spent on a database outage) would otherwise leave the parcel unconfirmed silently.
    So do confirmations waiting for credentials their shop has again. A job sent twice is harmless: the second
    run of an attempt records nothing. Returns how many."""
    statement = (
        update(ShipmentConfirmation)
        .where(
            col(ShipmentConfirmation.state) == S.PENDING, col(ShipmentConfirmation.updated_at) < utcnow() - older_than
        )
        .values(updated_at=utcnow())
        .returning(col(ShipmentConfirmation.id))
    )
    ids = list((await session.execute(statement)).scalars().all())
    usable = select(Shop.id).where(col(Shop.credentials).is_not(None), col(Shop.credentials_refused_at).is_(None))
    parked = (  # parked after new credentials had already resumed the shop's confirmations
        update(ShipmentConfirmation)
        .where(col(ShipmentConfirmation.state) == S.WAITING_FOR_CREDENTIALS)
        .where(col(ShipmentConfirmation.updated_at) < utcnow() - older_than)
        .where(col(ShipmentConfirmation.shop_id).in_(usable.scalar_subquery()))
        .values(state=S.PENDING.value, updated_at=utcnow())
        .returning(col(ShipmentConfirmation.id))
    )
    ids += list((await session.execute(parked)).scalars().all())
    for confirmation_id in ids:
        outbox.enqueue(CONFIRM_SHIPMENT_JOB, {"confirmation_id": confirmation_id})
    await outbox.flush(session)
    return len(ids)
