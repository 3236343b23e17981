"""The five metrics, which way each is healthy, their default thresholds, and the changes admins make."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.health.errors import HealthErrorCode
from domain.health.models import HealthThresholdChange
from domain.i18n import Message, msg


class Metric(StrEnum):
    STATUS_DRIFT = "STATUS_DRIFT"
    CHANNEL_ATTRIBUTION = "CHANNEL_ATTRIBUTION"
    VOUCHER_MATCH = "VOUCHER_MATCH"
    ID_CONSISTENCY = "ID_CONSISTENCY"
    EXCEPTION_CLOSURE = "EXCEPTION_CLOSURE"


@dataclass(frozen=True)
class Definition:
    metric: Metric
    title: Message  # rendered where someone reads it: the board, the digest, the export
    formula: Message
    default: float
    below: bool  # healthy when the value is below the threshold (drift); above for the other four


DEFINITIONS: dict[Metric, Definition] = {
    d.metric: d
    for d in (
        Definition(
            Metric.STATUS_DRIFT,
            msg("status drift rate"),
            msg("(status changes - shortest legal path from the first status to the current one) / orders"),
            0.012,
            True,
        ),
        Definition(
            Metric.CHANNEL_ATTRIBUTION,
            msg("channel attribution accuracy"),
            msg("orders whose utm_source agrees with their known channel / orders"),
            0.995,
            False,
        ),
        Definition(
            Metric.VOUCHER_MATCH,
            msg("voucher match rate"),
            msg("statement lines matched to a confirmed voucher / statement lines of reconciled statements"),
            0.9998,
            False,
        ),
        Definition(
            Metric.ID_CONSISTENCY,
            msg("cross-system ID consistency"),
            msg("orders whose ERP/CRM/WMS customer ids agree / orders with at least two reports"),
            0.992,
            False,
        ),
        Definition(
            Metric.EXCEPTION_CLOSURE,
            msg("exception closure rate"),
            msg("exceptions resolved within 72 h / exceptions opened (those younger than 72 h count once resolved)"),
            0.85,
            False,
        ),
    )
}


def parse_metric(name: str, at: tuple[str | int, ...], problems: Problems) -> Metric | None:
    try:
        return Metric(name.strip().upper())
    except ValueError:
        problems.add(
            at,
            msg("unknown metric {name}; one of {metric}", name=repr(name), metric=", ".join(Metric)),
            HealthErrorCode.UNKNOWN_METRIC,
        )
        return None


def parse_metrics(names: list[str] | None, at: tuple[str | int, ...], problems: Problems) -> list[Metric]:
    """All five when none are named; at most the first ten names are read (there are five metrics)."""
    if names is None:
        return list(Metric)
    parsed = [parse_metric(name, (*at, i), problems) for i, name in enumerate(names[:10])]
    return [m for m in parsed if m is not None]


def is_healthy(metric: Metric, value: float | None, threshold: float) -> bool | None:
    """None for an empty period: no orders is neither healthy nor unhealthy."""
    if value is None:
        return None
    return value < threshold if DEFINITIONS[metric].below else value > threshold


async def current_thresholds(session: AsyncSession) -> dict[Metric, float]:
    thresholds = {metric: d.default for metric, d in DEFINITIONS.items()}
    rows = (await session.exec(select(HealthThresholdChange).order_by(col(HealthThresholdChange.id)))).all()
    for row in rows:
        if row.metric in Metric._value2member_map_:
            thresholds[Metric(row.metric)] = row.new_value
    return thresholds


async def threshold_history(session: AsyncSession, metric: Metric) -> list[HealthThresholdChange]:
    query = (
        select(HealthThresholdChange)
        .where(HealthThresholdChange.metric == metric.value)
        .order_by(col(HealthThresholdChange.id).desc())
    )
    return list((await session.exec(query)).all())


async def change_threshold(session: AsyncSession, metric_name: str, value: float, *, by: str, reason: str) -> float:
    """Records who changed it, when, from what and why; the new value holds from the next computation."""
    problems = Problems()
    metric = parse_metric(metric_name, ("metric",), problems)
    if not 0.0 <= value <= 1.0:
        problems.add(
            ("threshold",),
            msg("a threshold is a fraction between 0 and 1 (e.g. 0.995 for 99.5%)"),
            HealthErrorCode.OUT_OF_RANGE,
        )
    if not reason.strip():
        problems.add(("reason",), msg("say why the threshold changes"), HealthErrorCode.REQUIRED)
    problems.raise_if_any()
    assert metric is not None
    old = (await current_thresholds(session))[metric]
    if old == value:
        raise UserError.one(
            ("threshold",),
            msg("the threshold of {metric} is already {value}", metric=metric, value=value),
            HealthErrorCode.UNCHANGED,
        )
    session.add(
        HealthThresholdChange(
            metric=metric.value,
            old_value=old,
            new_value=value,
            changed_by=by,
            changed_at=utcnow(),
            reason=reason.strip(),
        )
    )
    await session.flush()
    return value
