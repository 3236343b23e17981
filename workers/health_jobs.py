"""Order health jobs: the hourly refresh of the metrics, and the alert messages to the group chats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.health import alerts
from domain.health.models import HealthAlert
from domain.health.service import refresh
from domain.health.windows import Period
from runtime.notifiers import Robot
from workers.digests import deliver_digest
from workers.jobs import runtime_of, unit_of_work


async def compute_health(ctx: dict[str, Any]) -> int:
    """The hour that just ended and the day so far; returns how many alerts were raised or cleared."""
    settings = runtime_of(ctx).settings
    tz = settings.merchant_zone
    now = utcnow()
    async with unit_of_work(ctx) as session:
        await refresh(session, Period.HOUR, now - timedelta(hours=1), now, tz)
        day = await refresh(session, Period.DAY, now, now, tz)
    return len(day.transitions)


async def push_health_alerts(ctx: dict[str, Any], robots: list[Robot] | None = None) -> int:
    """Sends every raise and clear not yet sent, as one message."""

    tz = runtime_of(ctx).settings.merchant_zone

    async def collect(session: AsyncSession) -> tuple[list[HealthAlert], tuple[str, str]] | None:
        pending = await alerts.unsent(session)
        return (pending, alerts.message(pending, tz)) if pending else None

    async def sent(session: AsyncSession, pending: list[HealthAlert]) -> None:
        await alerts.mark_sent(session, pending, utcnow())

    return await deliver_digest(ctx, robots, "health alerts", collect, sent)
