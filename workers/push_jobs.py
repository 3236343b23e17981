"""Offline pushes: deciding the notice an order change owes its buyer, and sending it through JPush.

The notice is written (DUE, HELD for quiet hours, or SKIPPED) before anything is sent, in its own unit of
work; the send happens outside any transaction and its answer is written after. A provider that is away
makes arq try again with back-off; a notice whose jobs all gave up is sent by the sweep."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from arq import Retry
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.outbox.service import Outbox
from domain.push.models import NoticeState, PushNotice
from domain.push.quiet import QuietHours
from domain.push.service import PushRules, delivery, overdue, owe_notice, settle
from domain.push.texts import PushReason
from domain.settings import Settings
from runtime import metrics
from runtime.jpush import JPush, PushRefused, PushUnavailable
from workers.jobs import runtime_of, unit_of_work

log = logging.getLogger(__name__)

OVERDUE_AFTER = timedelta(minutes=5)
DECIDED = {NoticeState.HELD: "held", NoticeState.SKIPPED: "dropped"}


def push_rules(settings: Settings) -> PushRules:
    quiet = QuietHours(settings.push_quiet_start, settings.push_quiet_end, settings.merchant_timezone)
    return PushRules(quiet, settings.merchant_timezone, settings.merchant_language)


async def push_order_update(
    ctx: dict[str, Any], order_id: int, version: int, reason: str, now: datetime | None = None
) -> str:
    """Enqueued with the order change that owes the push (PACKED, SHIPPED, DELIVERED, a moved prediction)."""
    at = now or utcnow()
    settings = runtime_of(ctx).settings
    if JPush.from_settings(settings) is None:
        return "no push provider configured"  # nothing is owed that could not be sent when it mattered
    async with unit_of_work(ctx) as session:
        decided_before = await _decided(session, order_id, version)
        notice = await owe_notice(session, Outbox(), order_id, version, PushReason(reason), push_rules(settings), at)
    if notice is None or notice.id is None:
        return "no buyer to tell"
    if not decided_before and notice.state in DECIDED:  # a job run again counts nothing again
        metrics.count_offline_push(DECIDED[NoticeState(notice.state)])
    if notice.state != NoticeState.DUE:
        return f"notice {notice.id} is {notice.state} ({notice.error or notice.due_at.isoformat()})"
    return await send_push(ctx, notice.id, now=at)


async def _decided(session: AsyncSession, order_id: int, version: int) -> bool:
    query = select(PushNotice.id).where(PushNotice.order_id == order_id, PushNotice.version == version)
    return (await session.exec(query)).first() is not None


async def send_push(
    ctx: dict[str, Any], notice_id: int, now: datetime | None = None, provider: JPush | None = None
) -> str:
    """Sends a due notice to the buyer's devices as registered now; repeats of a sent notice send nothing."""
    runtime = runtime_of(ctx)
    provider = provider or JPush.from_settings(runtime.settings)
    if provider is None:
        log.warning("push notice %s is owed, but no JPush app is configured", notice_id)
        return "owed: no push provider configured"
    async with unit_of_work(ctx) as session:
        notice = await session.get(PushNotice, notice_id)
        owed = notice is not None and notice.state in (NoticeState.HELD, NoticeState.DUE)
        sending = await delivery(session, notice_id, now or utcnow())
        dropped = owed and notice is not None and notice.state == NoticeState.SKIPPED
    if dropped:  # opted out, or no device left, since the notice was decided
        metrics.count_offline_push("dropped")
    if sending is None:
        return "nothing to send"
    msg_id, error = None, None
    started = time.perf_counter()
    try:
        msg_id = await provider.push(sending)
    except PushUnavailable as exc:
        log.warning("push notice %s not sent yet: %s", notice_id, exc)
        raise Retry(defer=timedelta(seconds=5 * 2 ** ctx.get("job_try", 1))) from exc
    except PushRefused as exc:
        error = str(exc)
        log.warning("push notice %s refused: %s", notice_id, error)
    metrics.count_offline_push("sent" if error is None else "failed", time.perf_counter() - started)
    async with unit_of_work(ctx) as session:
        await settle(session, notice_id, utcnow(), msg_id=msg_id, error=error)
    return f"sent {msg_id}" if error is None else f"failed: {error}"


async def sweep_pushes(ctx: dict[str, Any]) -> int:
    """Notices still owed five minutes after they fell due (their job lost, or out of tries); how many were sent."""
    if JPush.from_settings(runtime_of(ctx).settings) is None:
        return 0
    async with unit_of_work(ctx) as session:
        owed = await overdue(session, utcnow(), OVERDUE_AFTER)
    sent = 0
    for notice_id in owed:
        try:
            sent += (await send_push(ctx, notice_id)).startswith("sent")
        except Retry:
            break  # the provider is away: the next sweep tries again
    return sent
