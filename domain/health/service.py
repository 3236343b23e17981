"""One refresh of order health: store the period's snapshots, then let the current day's values raise or clear alerts.

Alerts follow the day so far, not the hour: an hour of twenty orders swings too far to wake anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.health.alerts import Transition, evaluate
from domain.health.snapshots import Computed, compute_snapshots
from domain.health.windows import Period
from domain.outbox.service import Outbox

PUSH_ALERTS_JOB = "push_health_alerts"


@dataclass(frozen=True)
class Refreshed:
    computed: Computed
    transitions: list[Transition]


async def refresh(session: AsyncSession, period: Period, at: datetime, now: datetime, tz: ZoneInfo) -> Refreshed:
    computed = await compute_snapshots(session, period, at, now, tz)
    transitions: list[Transition] = []
    if period is Period.DAY and computed.window.start <= now < computed.window.end:
        transitions = await evaluate(
            session, computed.overall(), computed.thresholds, period, computed.window.start, now
        )
    if transitions:  # the robots are called after the commit, by the job this enqueues
        outbox = Outbox()
        outbox.enqueue(PUSH_ALERTS_JOB, {})
        await outbox.flush(session)
    return Refreshed(computed, transitions)
