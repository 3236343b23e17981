"""Drift alerts leave for the group chats: one digest per window, whatever the storm."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels.monitor import digest, mark_sent, unsent_alerts
from runtime.notifiers import Robot
from workers.digests import deliver_digest
from workers.jobs import runtime_of


async def push_drift_alerts(ctx: dict[str, Any], robots: list[Robot] | None = None) -> int:
    """Returns how many alerts the digest carried."""

    tz = runtime_of(ctx).settings.merchant_zone

    async def collect(session: AsyncSession) -> tuple[list[tuple[int, int]], tuple[str, str]] | None:
        alerts = await unsent_alerts(session)
        return ([(a.id or 0, a.count) for a in alerts], digest(alerts, tz)) if alerts else None

    return await deliver_digest(ctx, robots, "drift digest", collect, mark_sent)
