"""arq jobs: each opens its own unit of work, commits, then lets the relay send what it wrote.

arq delivers at least once, so every job is idempotent; transient database or Redis failures
raise Retry so that arq tries again with back-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.identity.grouping import group_pending
from domain.intake.sweeper import fail_abandoned
from domain.orders.service import flag_overdue_payment
from domain.outbox.service import Outbox
from runtime.outbox_relay import relay_once
from runtime.process import Runtime

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30
TRANSIENT = (OperationalError, RedisConnectionError, ConnectionError, TimeoutError)
# Two jobs appending the same order's next event: the loser sees the winner's change when it runs again.
# PostgreSQL names the constraint, SQLite its columns.
VERSION_RACE = ("uq_order_event_version", "order_event.order_id, order_event.version")


def runtime_of(ctx: dict[str, Any]) -> Runtime:
    runtime: Runtime = ctx["runtime"]
    return runtime


def woken_at(ctx: dict[str, Any]) -> datetime:
    """When arq meant the job to run (a cron's own tick), else now: a daily job that waited in a busy queue past
    the hour still knows it was woken in its hour (domain.clock.due)."""
    score = ctx.get("score")
    return datetime.fromtimestamp(score / 1000, UTC) if isinstance(score, int | float) and score > 0 else utcnow()


@asynccontextmanager
async def unit_of_work(ctx: dict[str, Any], *, wakes_relay: bool = True) -> AsyncIterator[AsyncSession]:
    """`wakes_relay=False` for a unit of work known to write no outbox row: a relay pass is a transaction of its
    own, and jobs that run by the thousand (webhook attempts) would double their database work with it."""
    runtime = runtime_of(ctx)
    try:
        async with runtime.core.sessions() as session, session.begin():
            yield session
    except TRANSIENT as exc:
        raise Retry(defer=timedelta(seconds=2 * ctx.get("job_try", 1))) from exc
    except DBAPIError as exc:
        lost_race = isinstance(exc, IntegrityError) and any(mark in str(exc.orig) for mark in VERSION_RACE)
        if exc.connection_invalidated or lost_race:
            raise Retry(defer=timedelta(seconds=2 * ctx.get("job_try", 1))) from exc
        raise
    if wakes_relay:
        runtime.relay.notify()


async def check_payment_deadline(ctx: dict[str, Any], order_id: int) -> bool:
    """Flags an order still unpaid at its deadline, once; true when this run flagged it."""
    outbox = Outbox()
    async with unit_of_work(ctx) as session:
        flagged = await flag_overdue_payment(session, outbox, order_id)
    if flagged:
        log.info("order %s passed its payment deadline", order_id)
    return flagged


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Sends outbox rows a crash left behind; rows younger than the grace period are the relay's. A large
    backlog is sent over several runs, each well within the default queue's job timeout."""
    runtime = runtime_of(ctx)
    grace = timedelta(seconds=runtime.settings.outbox_grace_seconds)
    until = time.monotonic() + SWEEP_SECONDS
    sent = 0
    try:
        while time.monotonic() < until and (
            count := await relay_once(
                runtime.core.sessions,
                runtime.redis,
                older_than=grace,
                prefix=runtime.settings.pubsub_prefix,
                webhooks=runtime.relay.webhooks,
            )
        ):
            sent += count
    except TRANSIENT as exc:
        raise Retry(defer=timedelta(seconds=5)) from exc
    return sent


async def sweep_inbound(ctx: dict[str, Any]) -> int:
    """Messages whose processor died keep no outcome; mark them so that they are visible and replayable."""
    runtime = runtime_of(ctx)
    async with unit_of_work(ctx) as session:
        return await fail_abandoned(session, timedelta(seconds=runtime.settings.outbox_grace_seconds * 10))


async def group_pending_orders(ctx: dict[str, Any], order_id: int) -> int | None:
    """Groups a pending order with its buyer's duplicates once the merge window passed; the parent id or None."""
    runtime = runtime_of(ctx)
    outbox = Outbox()
    async with unit_of_work(ctx) as session:
        settings = runtime.settings
        grouped = await group_pending(
            session, outbox, order_id, settings.merge_window_seconds, settings.payment_deadline_minutes * 60
        )
    if grouped is not None and grouped.created:
        log.info("grouped %d pending orders under order %s", len(grouped.child_ids), grouped.parent_order_id)
    return None if grouped is None else grouped.parent_order_id
