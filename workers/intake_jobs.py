"""Drift alerts leave for the group chats: one digest per window, whatever the storm."""

from __future__ import annotations

import logging
from typing import Any

from domain.channels.monitor import digest, mark_sent, unsent_alerts
from workers.jobs import unit_of_work
from workers.notifiers import Robot, broadcast, robots_from_settings

log = logging.getLogger(__name__)


async def push_drift_alerts(ctx: dict[str, Any], robots: list[Robot] | None = None) -> int:
    """Returns how many alerts the digest carried; nothing is marked sent unless every robot took it."""
    robots = robots_from_settings(ctx["runtime"].settings) if robots is None else robots
    if not robots:
        return 0
    async with unit_of_work(ctx) as session:
        alerts = await unsent_alerts(session)
        counts = [(a.id or 0, a.count) for a in alerts]
        title, text = digest(alerts) if alerts else ("", "")
    if not alerts:
        return 0
    failures = await broadcast(robots, title, text)
    if failures:
        log.warning("drift digest not delivered: %s", "; ".join(failures))
        return 0
    async with unit_of_work(ctx) as session:
        await mark_sent(session, counts)
    return len(counts)
