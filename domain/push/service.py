"""Offline pushes to buyers' apps: their devices and opt-out, and the notices owed on PACKED, SHIPPED,
DELIVERED and on a predicted time that moved.

A notice is decided once per order version (the job may run twice) and written before anything is sent;
one that falls in the merchant's quiet hours is HELD with the moment they end, and a deferred job (or the
sweep, if that job was lost) sends it then. What the provider answers is written back to the notice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import UserError
from domain.i18n import DEFAULT_LANGUAGE, msg
from domain.orders.models import Order
from domain.orders.status import EventType, OrderStatus
from domain.outbox.service import Outbox
from domain.push.errors import PushErrorCode
from domain.push.models import NoticeState, Platform, PushDevice, PushNotice, PushPreference
from domain.push.quiet import QuietHours
from domain.push.texts import PushReason, compose

PUSH_JOB = "push_order_update"
SEND_PUSH_JOB = "send_push"
PUSHED_EVENTS = {
    EventType.ORDER_PACKED: PushReason.PACKED,
    EventType.ORDER_SHIPPED: PushReason.SHIPPED,
    EventType.ORDER_DELIVERED: PushReason.DELIVERED,
}
DEVICES_PER_BUYER = 10
"""A buyer's phones and tablets; past this, the device registered longest ago stops getting pushes."""
REGISTRATION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
"""JPush registration ids are short alphanumeric strings; anything else is not one."""


@dataclass(frozen=True)
class PushRules:
    quiet: QuietHours
    timezone: str
    language: str = DEFAULT_LANGUAGE  # the merchant's: what its buyers read


@dataclass(frozen=True)
class Delivery:
    """What one send takes: the buyer's devices as they are when it is sent, and the notice's text."""

    notice_id: int
    registration_ids: list[str]
    platforms: list[str]
    title: str
    text: str
    extras: dict[str, str | int]


def schedule_push(outbox: Outbox, order_id: int, version: int, reason: PushReason) -> None:
    outbox.enqueue(PUSH_JOB, {"order_id": order_id, "version": version, "reason": reason.value})


def eta_moved(before: datetime | None, after: datetime | None, threshold: timedelta) -> bool:
    """Only a prediction replacing another counts: after a move the new one follows the status push."""
    return before is not None and after is not None and abs(after - before) > threshold


async def register_device(session: AsyncSession, buyer_uid: str, platform: str, registration_id: str) -> PushDevice:
    """A registration id registered by another buyer moves to this one: whoever signed in last on a device is
    the one its pushes are for."""
    if platform not in Platform._value2member_map_:
        known = ", ".join(p.value for p in Platform)
        raise UserError.one(
            ("platform",),
            msg("unknown platform {platform}; known: {known}", platform=repr(platform), known=known),
            PushErrorCode.UNKNOWN_PLATFORM,
        )
    if not REGISTRATION_ID.fullmatch(registration_id):
        raise UserError.one(
            ("registration_id",), msg("8 to 64 letters, digits, '-' or '_'"), PushErrorCode.INVALID_REGISTRATION_ID
        )
    device = (await session.exec(select(PushDevice).where(PushDevice.registration_id == registration_id))).first()
    if device is None:
        device = PushDevice(
            buyer_uid=buyer_uid, platform=platform, registration_id=registration_id, registered_at=utcnow()
        )
    device.buyer_uid, device.platform, device.registered_at = buyer_uid, platform, utcnow()
    session.add(device)
    await session.flush()
    for stale in (await devices_of(session, buyer_uid))[:-DEVICES_PER_BUYER]:
        await session.delete(stale)
    await session.flush()
    return device


async def unregister_device(session: AsyncSession, buyer_uid: str, registration_id: str) -> None:
    """Only the buyer's own device: another buyer's registration id is answered as unknown."""
    query = select(PushDevice).where(PushDevice.registration_id == registration_id, PushDevice.buyer_uid == buyer_uid)
    device = (await session.exec(query)).first()
    if device is None:
        raise UserError.one(("registration_id",), msg("no such device of yours"), PushErrorCode.NOT_FOUND)
    await session.delete(device)
    await session.flush()


async def devices_of(session: AsyncSession, buyer_uid: str) -> list[PushDevice]:
    """Registered longest ago first."""
    order = (col(PushDevice.registered_at), col(PushDevice.id))
    query = select(PushDevice).where(PushDevice.buyer_uid == buyer_uid).order_by(*order)
    return list((await session.exec(query)).all())


async def set_opt_out(session: AsyncSession, buyer_uid: str, opted_out: bool) -> PushPreference:
    preference = await session.get(PushPreference, buyer_uid)
    if preference is None:
        preference = PushPreference(buyer_uid=buyer_uid, updated_at=utcnow())
    preference.opted_out, preference.updated_at = opted_out, utcnow()
    session.add(preference)
    await session.flush()
    return preference


async def opted_out(session: AsyncSession, buyer_uid: str) -> bool:
    preference = await session.get(PushPreference, buyer_uid)
    return preference is not None and preference.opted_out


async def owe_notice(
    session: AsyncSession,
    outbox: Outbox,
    order_id: int,
    version: int,
    reason: PushReason,
    rules: PushRules,
    now: datetime,
) -> PushNotice | None:
    """The notice of this order version, decided once: DUE now, HELD until the quiet hours end, or SKIPPED
    (opted out). None for an order without a buyer (nobody to tell)."""
    query = select(PushNotice).where(PushNotice.order_id == order_id, PushNotice.version == version)
    existing = (await session.exec(query)).first()
    if existing is not None:
        return existing
    order = await session.get(Order, order_id)
    if order is None or order.buyer_uid is None:
        return None
    composed = compose(
        reason, order.channel_order_id, OrderStatus(order.status), order.predicted_next_at,
        order.predicted_next_stage, rules.timezone, rules.language,
    )  # fmt: skip
    due = rules.quiet.release(now)
    state = NoticeState.HELD if due > now else NoticeState.DUE
    notice = PushNotice(
        order_id=order_id, version=version, buyer_uid=order.buyer_uid, reason=reason.value, title=composed.title,
        text=composed.text, state=state.value, due_at=due, created_at=now,
    )  # fmt: skip
    if await opted_out(session, order.buyer_uid):
        notice.state, notice.error = NoticeState.SKIPPED.value, "the buyer opted out of pushes"
    session.add(notice)
    await session.flush()
    if notice.state == NoticeState.HELD:
        outbox.enqueue(SEND_PUSH_JOB, {"notice_id": notice.id}, defer_seconds=math.ceil((due - now).total_seconds()))
        await outbox.flush(session)
    return notice


async def delivery(session: AsyncSession, notice_id: int, now: datetime) -> Delivery | None:
    """What to send for a notice now; None when there is nothing to send (sent already, not due yet, or
    skipped now: the buyer opted out or has no device since it was decided)."""
    notice = await session.get(PushNotice, notice_id)
    if notice is None or notice.state not in (NoticeState.HELD, NoticeState.DUE) or notice.due_at > now:
        return None
    devices = await devices_of(session, notice.buyer_uid)
    skip = "the buyer opted out of pushes" if await opted_out(session, notice.buyer_uid) else None
    if skip is None and not devices:
        skip = "the buyer has no registered device"
    if skip is not None:
        notice.state, notice.error = NoticeState.SKIPPED.value, skip
        session.add(notice)
        await session.flush()
        return None
    order = await session.get(Order, notice.order_id)
    assert order is not None and notice.id is not None
    return Delivery(
        notice_id=notice.id,
        registration_ids=[d.registration_id for d in devices],
        platforms=sorted({d.platform for d in devices}),
        title=notice.title,
        text=notice.text,
        extras={"orderNumber": order.channel_order_id, "status": order.status, "version": notice.version},
    )


async def settle(
    session: AsyncSession, notice_id: int, now: datetime, *, msg_id: str | None = None, error: str | None = None
) -> None:
    """The provider's answer: SENT with its message id, or FAILED with its refusal."""
    notice = await session.get(PushNotice, notice_id)
    if notice is None:
        return
    if error is None:
        notice.state, notice.sent_at, notice.provider_msg_id = NoticeState.SENT.value, now, msg_id
    else:
        notice.state, notice.error = NoticeState.FAILED.value, error
    session.add(notice)
    await session.flush()


async def overdue(session: AsyncSession, now: datetime, older_than: timedelta, limit: int = 100) -> list[int]:
    """Notices still owed well after they fell due: their job was lost or gave up while the provider was away."""
    query = (
        select(PushNotice.id)
        .where(col(PushNotice.state).in_([NoticeState.HELD, NoticeState.DUE]), PushNotice.due_at < now - older_than)
        .order_by(col(PushNotice.id))
        .limit(limit)
    )
    return [int(i) for i in (await session.exec(query)).all() if i is not None]
