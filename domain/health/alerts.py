"""Alerts: a metric crossing its threshold raises one alert, kept raised until the metric recovers.

Each computation compares the overall value with the threshold; only a change of verdict writes anything.
The messages leave after the commit, from the rows (`raise_sent_at`, `clear_sent_at` still empty), so a
failed robot is retried by the next run and a success is never sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import shown
from domain.health.metrics import Measured
from domain.health.models import AlertState, HealthAlert
from domain.health.thresholds import DEFINITIONS, Metric, is_healthy
from domain.health.windows import Period
from domain.i18n import Message, msg, tr
from domain.sql import insert_ignore

PERIOD_NAMES: dict[str, Message] = {
    Period.HOUR.value: msg("hour"),
    Period.DAY.value: msg("day"),
}


@dataclass(frozen=True)
class Transition:
    metric: Metric
    raised: bool  # False: cleared
    value: float
    threshold: float


async def evaluate(
    session: AsyncSession,
    overall: list[Measured],
    thresholds: dict[Metric, float],
    period: Period,
    period_start: datetime,
    now: datetime,
) -> list[Transition]:
    """Raise for a metric that turned unhealthy, clear one that recovered; an empty period changes nothing."""
    transitions: list[Transition] = []
    for row in overall:
        threshold = thresholds[row.metric]
        healthy = is_healthy(row.metric, row.value, threshold)
        if healthy is None:
            continue
        assert row.value is not None
        if not healthy:
            values = {
                "metric": row.metric.value, "open_key": row.metric.value, "state": AlertState.RAISED.value,
                "period": period.value, "period_start": period_start, "raised_value": row.value,
                "threshold": threshold, "raised_at": now,
            }  # fmt: skip
            if await insert_ignore(session, HealthAlert, values, ("open_key",)) is not None:
                transitions.append(Transition(row.metric, True, row.value, threshold))
            continue
        cleared = await session.exec(
            update(HealthAlert)
            .where(col(HealthAlert.open_key) == row.metric.value)
            .values(open_key=None, state=AlertState.CLEARED.value, cleared_value=row.value, cleared_at=now)
        )
        if cleared.rowcount:
            transitions.append(Transition(row.metric, False, row.value, threshold))
    return transitions


async def unsent(session: AsyncSession) -> list[HealthAlert]:
    query = select(HealthAlert).where(
        or_(
            col(HealthAlert.raise_sent_at).is_(None),
            (col(HealthAlert.state) == AlertState.CLEARED.value) & col(HealthAlert.clear_sent_at).is_(None),
        )
    )
    return list((await session.exec(query.order_by(col(HealthAlert.id)))).all())


def message(alerts: list[HealthAlert], tz: ZoneInfo) -> tuple[str, str]:
    """One markdown message for everything pending: raised first, then recovered; periods on the merchant's clock,
    in the language of the work at hand (a digest job speaks the merchant's)."""
    lines = []
    for alert in alerts:
        d = DEFINITIONS[Metric(alert.metric)]
        sign = "<" if d.below else ">"
        threshold = f"{alert.threshold:.4%}"
        if alert.raise_sent_at is None:
            lines.append(
                tr(
                    "- **{metric}** unhealthy: {value} (healthy {sign} {threshold}), {period} from {start}",
                    metric=d.title,
                    value=f"{alert.raised_value:.4%}",
                    sign=sign,
                    threshold=threshold,
                    period=PERIOD_NAMES.get(alert.period, alert.period.lower()),
                    start=shown(alert.period_start, tz),
                )
            )
        if alert.state == AlertState.CLEARED and alert.cleared_value is not None:
            lines.append(
                tr(
                    "- **{metric}** recovered: {value} (healthy {sign} {threshold})",
                    metric=d.title,
                    value=f"{alert.cleared_value:.4%}",
                    sign=sign,
                    threshold=threshold,
                )
            )
    raised = sum(1 for a in alerts if a.raise_sent_at is None and a.state == AlertState.RAISED)
    title = (
        tr("orderhub health: {count} metric(s) unhealthy", count=raised) if raised else tr("orderhub health: recovered")
    )
    return title, "\n".join(lines)


async def mark_sent(session: AsyncSession, alerts: list[HealthAlert], now: datetime) -> None:
    for alert in alerts:
        values: dict[str, datetime] = {}
        if alert.raise_sent_at is None:
            values["raise_sent_at"] = now
        if alert.state == AlertState.CLEARED and alert.clear_sent_at is None:
            values["clear_sent_at"] = now
        await session.exec(update(HealthAlert).where(col(HealthAlert.id) == alert.id).values(**values))


async def open_alerts(session: AsyncSession) -> list[HealthAlert]:
    query = select(HealthAlert).where(col(HealthAlert.open_key).is_not(None)).order_by(col(HealthAlert.id))
    return list((await session.exec(query)).all())
