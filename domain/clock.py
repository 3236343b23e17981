"""Time: aware UTC is the only kind orderhub stores and the API returns; the merchant's clock
(`Settings.merchant_zone`) is the only one it groups by, schedules by and shows to people.

Every "which hour", "which day", "is it 09:00 yet" and every time written into a human text goes through
these functions, so that a merchant in Los Angeles sees their own days (23 or 25 hours long across a
daylight-saving change) and nobody's day starts at UTC midnight by accident."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A naive time is a caller's bug, not a guess to make: refuse it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time without a UTC offset")
    return moment.astimezone(UTC)


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name (ZoneInfoNotFoundError/ValueError when there is none)."""
    return ZoneInfo(name)


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock reading of an aware moment on the merchant's clock."""
    return as_utc(moment).astimezone(tz)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The merchant's calendar day holding `moment`."""
    return local(moment, tz).date()


def day_start_of(day: date, tz: ZoneInfo) -> datetime:
    """UTC instant of the merchant's midnight opening `day` (a Shanghai day starts at 16:00 UTC the day before)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def day_start(moment: datetime, tz: ZoneInfo) -> datetime:
    return day_start_of(local_day(moment, tz), tz)


def day_end(moment: datetime, tz: ZoneInfo) -> datetime:
    """UTC instant the merchant's day holding `moment` ends (exclusive): 23, 24 or 25 hours after its start."""
    return day_start_of(local_day(moment, tz) + timedelta(days=1), tz)


def hour_start(moment: datetime, tz: ZoneInfo) -> datetime:
    """UTC instant the merchant's hour holding `moment` began. Differs from the UTC hour in zones off by a
    half or quarter hour (India, Nepal); a repeated hour in autumn stays two hours, told apart by the instant."""
    at = local(moment, tz)
    return as_utc(moment) - timedelta(minutes=at.minute, seconds=at.second, microseconds=at.microsecond)


def shown(moment: datetime, tz: ZoneInfo) -> str:
    """A time as people read it in a message: the merchant's wall clock and its offset, never bare UTC."""
    at = local(moment, tz)
    offset = at.strftime("%z")
    sign, hours, minutes = offset[0], offset[1:3], offset[3:5]
    return f"{at:%Y-%m-%d %H:%M} (UTC{sign}{hours}:{minutes})"


def due(now: datetime, tz: ZoneInfo, hour: int) -> bool:
    """For a job woken once an hour: true in the first waking at or after `hour`:00 of the merchant's day.

    Exactly once a day, also when the clock skips that hour in spring (it then runs the hour after) or
    plays an hour twice in autumn (it runs the first time only)."""
    at, before = local(now, tz), local(now - timedelta(hours=1), tz)
    if at.hour < hour:
        return False
    return before.date() != at.date() or before.hour < hour
