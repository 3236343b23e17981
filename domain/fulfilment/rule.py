"""The shipped rule as data: which outbound evidence may turn an order SHIPPED, judged without a database."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problems
from domain.fulfilment.errors import FulfilmentErrorCode
from domain.fulfilment.models import ExceptionKind, ShippedRuleVersion
from domain.i18n import Message, msg


@dataclass(frozen=True)
class ShippedRule:
    """Defaults are version 0: what holds until an admin stores a change."""

    version: int = 0
    min_minutes_after_request: int = 5
    require_outbound_time: bool = True
    clock_skew_minutes: int = 10

    def values(self) -> dict[str, object]:
        values = asdict(self)
        values.pop("version")
        return values


@dataclass(frozen=True)
class Breach:
    kind: ExceptionKind
    reason: str
    message: Message


def judge_outbound(
    rule: ShippedRule, requested_at: datetime | None, outbound_at: datetime | None, now: datetime
) -> Breach | None:
    """None when the evidence may make the order SHIPPED; otherwise why a person must look at it.

    An outbound before the request, or within minutes of it, is the pattern of a parcel scanned out
    to make a dashboard green: real picking and packing takes longer than the rule's minimum.
    """
    if outbound_at is None:
        if rule.require_outbound_time:
            return Breach(
                ExceptionKind.SUSPICIOUS_OUTBOUND, "NO_OUTBOUND_TIME", msg("outbound evidence without a time")
            )
        return None
    if outbound_at > now + timedelta(minutes=rule.clock_skew_minutes):
        return Breach(
            ExceptionKind.CLOCK_SKEW,
            "FUTURE_TIME",
            msg(
                "outbound time {at} is more than {minutes} min in the future",
                at=outbound_at.isoformat(),
                minutes=rule.clock_skew_minutes,
            ),
        )
    if requested_at is None:
        return Breach(
            ExceptionKind.SUSPICIOUS_OUTBOUND, "NO_SHIP_REQUEST", msg("outbound for an order nobody asked to ship")
        )
    if outbound_at < requested_at:
        return Breach(
            ExceptionKind.SUSPICIOUS_OUTBOUND,
            "BEFORE_REQUEST",
            msg(
                "outbound at {at} precedes the ship request at {requested_at}",
                at=outbound_at.isoformat(),
                requested_at=requested_at.isoformat(),
            ),
        )
    if outbound_at - requested_at < timedelta(minutes=rule.min_minutes_after_request):
        gap = int((outbound_at - requested_at).total_seconds())
        return Breach(
            ExceptionKind.SUSPICIOUS_OUTBOUND,
            "TOO_SOON",
            msg(
                "outbound {seconds} s after the ship request; the rule needs {minutes} min",
                seconds=gap,
                minutes=rule.min_minutes_after_request,
            ),
        )
    return None


async def current_rule(session: AsyncSession) -> ShippedRule:
    query = select(ShippedRuleVersion).order_by(col(ShippedRuleVersion.version).desc()).limit(1)
    row = (await session.exec(query)).first()
    if row is None:
        return ShippedRule()
    return ShippedRule(row.version, row.min_minutes_after_request, row.require_outbound_time, row.clock_skew_minutes)


async def rule_history(session: AsyncSession) -> list[ShippedRuleVersion]:
    query = select(ShippedRuleVersion).order_by(col(ShippedRuleVersion.version).desc())
    return list((await session.exec(query)).all())


async def change_rule(
    session: AsyncSession,
    *,
    by: str,
    reason: str,
    min_minutes_after_request: int | None = None,
    require_outbound_time: bool | None = None,
    clock_skew_minutes: int | None = None,
) -> ShippedRule:
    """Store the next version; the row keeps the values it replaced, so every change can be read back."""
    problems = Problems()
    if min_minutes_after_request is not None and not 0 <= min_minutes_after_request <= 24 * 60:
        problems.add(
            ("min_minutes_after_request",), msg("must be between 0 and 1440 minutes"), FulfilmentErrorCode.OUT_OF_RANGE
        )
    if clock_skew_minutes is not None and not 0 <= clock_skew_minutes <= 24 * 60:
        problems.add(
            ("clock_skew_minutes",), msg("must be between 0 and 1440 minutes"), FulfilmentErrorCode.OUT_OF_RANGE
        )
    if not reason.strip():
        problems.add(("reason",), msg("say why the rule changes"), FulfilmentErrorCode.REQUIRED)
    problems.raise_if_any()
    old = await current_rule(session)
    new = ShippedRule(
        old.version + 1,
        old.min_minutes_after_request if min_minutes_after_request is None else min_minutes_after_request,
        old.require_outbound_time if require_outbound_time is None else require_outbound_time,
        old.clock_skew_minutes if clock_skew_minutes is None else clock_skew_minutes,
    )
    session.add(
        ShippedRuleVersion(
            version=new.version,
            min_minutes_after_request=new.min_minutes_after_request,
            require_outbound_time=new.require_outbound_time,
            clock_skew_minutes=new.clock_skew_minutes,
            changed_by=by,
            changed_at=utcnow(),
            previous={"version": old.version, **old.values()},
            reason=reason.strip(),
        )
    )
    await session.flush()
    return new
