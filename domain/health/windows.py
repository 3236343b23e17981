"""The periods health is measured over: an hour or a day in the merchant's time zone, or an explicit range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.clock import day_end, day_start, hour_start, utcnow
from domain.errors import Problems
from domain.health.errors import HealthErrorCode
from domain.i18n import msg


class Period(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


class Dimension(StrEnum):
    ALL = "ALL"
    CHANNEL = "CHANNEL"
    WAREHOUSE = "WAREHOUSE"


LENGTH = {Period.HOUR: timedelta(hours=1), Period.DAY: timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    period: Period | None = None  # None for an explicit range


def period_start(period: Period, at: datetime, tz: ZoneInfo) -> datetime:
    """Hours and days begin on the merchant's clock: a Shanghai day is 16:00 to 16:00 UTC."""
    return hour_start(at, tz) if period is Period.HOUR else day_start(at, tz)


def window_of(period: Period, at: datetime, tz: ZoneInfo) -> Window:
    if period is Period.DAY:  # a day is 23 or 25 hours across a daylight-saving change
        return Window(day_start(at, tz), day_end(at, tz), period)
    start = hour_start(at, tz)
    return Window(start, start + LENGTH[period], period)


def parse_period(name: str, at: tuple[str | int, ...], problems: Problems) -> Period | None:
    try:
        return Period(name.strip().upper())
    except ValueError:
        problems.add(
            at,
            msg("unknown period {name}; one of {period}", name=repr(name), period=", ".join(Period)),
            HealthErrorCode.UNKNOWN_PERIOD,
        )
        return None


def parse_dimension(name: str, at: tuple[str | int, ...], problems: Problems) -> Dimension | None:
    try:
        return Dimension(name.strip().upper())
    except ValueError:
        problems.add(
            at,
            msg("unknown dimension {name}; one of {dimension}", name=repr(name), dimension=", ".join(Dimension)),
            HealthErrorCode.UNKNOWN_DIMENSION,
        )
        return None


def resolve_window(
    problems: Problems,
    tz: ZoneInfo,
    retention_days: int,
    *,
    period: str = "DAY",
    at: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Window | None:
    """Either a period (the hour or day holding `at`, now by default) or an explicit [start, end) range.

    Ranges longer than the retention window are refused: the events behind them may be gone, so the
    numbers would be wrong rather than slow."""
    before = len(problems.items)
    chosen = parse_period(period, ("period",), problems)
    at = problems.aware_time(at, ("at",))
    start = problems.aware_time(start, ("from",))
    end = problems.aware_time(end, ("to",))
    if (start is None) != (end is None):
        problems.add(
            ("from" if start is None else "to",), msg("give both from and to, or neither"), HealthErrorCode.REQUIRED
        )
        return None
    if chosen is None or len(problems.items) > before:
        return None
    if start is not None and end is not None:
        if end <= start:
            problems.add(
                ("to",),
                msg("to ({end}) must be after from ({start})", end=end.isoformat(), start=start.isoformat()),
                HealthErrorCode.INVERTED_RANGE,
            )
            return None
        if end - start > timedelta(days=retention_days):
            problems.add(
                ("to",),
                msg(
                    "the range is longer than the {retention_days}-day retention window", retention_days=retention_days
                ),
                HealthErrorCode.PERIOD_TOO_LONG,
            )
            return None
        return Window(start, end, None)
    return window_of(chosen, at or utcnow(), tz)
