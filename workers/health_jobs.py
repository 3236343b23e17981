"""Order health jobs: the hourly refresh of the metrics, and the alert messages to the group chats."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.clock import utcnow
from domain.health import alerts
from domain.health.service import refresh
from domain.health.windows import Period
from workers.jobs import _runtime, unit_of_work
from workers.notifiers import Robot, broadcast, robots_from_settings

log = logging.getLogger(__name__)


async def compute_health(ctx: dict[str, Any]) -> int:
    """The hour that just ended and the day so far; returns how many alerts were raised or cleared."""
    settings = _runtime(ctx).settings
    tz = ZoneInfo(settings.merchant_timezone)
    now = utcnow()
    async with unit_of_work(ctx) as session:
        await refresh(session, Period.HOUR, now - timedelta(hours=1), now, tz)
        day = await refresh(session, Period.DAY, now, now, tz)
    return len(day.transitions)


async def push_health_alerts(ctx: dict[str, Any], robots: list[Robot] | None = None) -> int:
    """Sends every raise and clear not yet sent, as one message; nothing is marked sent unless every robot took it."""
    robots = robots_from_settings(_runtime(ctx).settings) if robots is None else robots
    if not robots:
        return 0
    async with unit_of_work(ctx) as session:
        pending = await alerts.unsent(session)
        title, text = alerts.message(pending) if pending else ("", "")
    if not pending:
        return 0
    failures = await broadcast(robots, title, text)
    if failures:
        log.warning("health alerts not delivered: %s", "; ".join(failures))
        return 0
    async with unit_of_work(ctx) as session:
        await alerts.mark_sent(session, pending, utcnow())
    return len(pending)
