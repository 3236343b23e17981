"""The merchant's clock: days, hours and daily schedules follow ORDERHUB_MERCHANT_TIMEZONE, across the
Shanghai day boundary (16:00 UTC) and a zone with daylight saving (Los Angeles)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.clock import day_end, day_start, day_start_of, due, hour_start, local_day, shown, utcnow, zone
from domain.health.windows import Period, window_of
from workers.jobs import woken_at
from workers.settings import CRON_JOBS

SHANGHAI = zone("Asia/Shanghai")
LOS_ANGELES = zone("America/Los_Angeles")
KOLKATA = zone("Asia/Kolkata")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_shanghai_day_turns_at_16_utc() -> None:
    before, after = at(2026, 12, 7, 15, 59), at(2026, 12, 7, 16, 0)
    assert local_day(before, SHANGHAI) == date(2026, 12, 7)
    assert local_day(after, SHANGHAI) == date(2026, 12, 8)
    assert day_start(before, SHANGHAI) == at(2026, 12, 6, 16)
    assert day_start(after, SHANGHAI) == at(2026, 12, 7, 16)
    assert day_end(before, SHANGHAI) == after
    assert hour_start(before, SHANGHAI) == at(2026, 12, 7, 15)
    assert hour_start(after, SHANGHAI) == after
    assert local_day(before, zone("UTC")) == local_day(after, zone("UTC"))  # what UTC grouping got wrong


def test_the_same_moments_fall_on_another_day_in_los_angeles() -> None:
    moment = at(2026, 12, 7, 7, 59)  # 23:59 on the 6th in Los Angeles, 15:59 on the 7th in Shanghai
    assert local_day(moment, LOS_ANGELES) == date(2026, 12, 6)
    assert local_day(moment, SHANGHAI) == date(2026, 12, 7)
    assert day_start(moment, LOS_ANGELES) == at(2026, 12, 6, 8)
    assert local_day(moment + timedelta(minutes=1), LOS_ANGELES) == date(2026, 12, 7)


def test_days_across_daylight_saving_are_23_and_25_hours() -> None:
    spring, autumn = at(2026, 3, 8, 20), at(2026, 11, 1, 20)
    assert day_end(spring, LOS_ANGELES) - day_start(spring, LOS_ANGELES) == timedelta(hours=23)
    assert day_end(autumn, LOS_ANGELES) - day_start(autumn, LOS_ANGELES) == timedelta(hours=25)
    assert day_start_of(date(2026, 3, 8), LOS_ANGELES) == at(2026, 3, 8, 8)  # PST
    assert day_start_of(date(2026, 3, 9), LOS_ANGELES) == at(2026, 3, 9, 7)  # PDT
    for period, moment, hours in ((Period.DAY, spring, 23), (Period.DAY, autumn, 25), (Period.HOUR, autumn, 1)):
        window = window_of(period, moment, LOS_ANGELES)
        assert window.end - window.start == timedelta(hours=hours)


def test_the_hour_played_twice_stays_two_hours() -> None:
    first, second = at(2026, 11, 1, 8, 30), at(2026, 11, 1, 9, 30)  # 01:30 PDT, then 01:30 PST
    assert hour_start(first, LOS_ANGELES) == at(2026, 11, 1, 8)
    assert hour_start(second, LOS_ANGELES) == at(2026, 11, 1, 9)


def test_hours_follow_a_zone_off_by_half_an_hour() -> None:
    assert hour_start(at(2026, 12, 7, 12, 15), KOLKATA) == at(2026, 12, 7, 11, 30)  # 17:45 in India
    assert hour_start(at(2026, 12, 7, 12, 45), KOLKATA) == at(2026, 12, 7, 12, 30)
    assert day_start(at(2026, 12, 7, 12), KOLKATA) == at(2026, 12, 6, 18, 30)


def test_times_in_messages_show_the_merchants_clock_and_its_offset() -> None:
    assert shown(at(2026, 12, 7, 1, 0), SHANGHAI) == "2026-12-07 09:00 (UTC+08:00)"
    assert shown(at(2026, 12, 7, 16, 0), SHANGHAI) == "2026-12-08 00:00 (UTC+08:00)"
    assert shown(at(2026, 7, 1, 16, 5), LOS_ANGELES) == "2026-07-01 09:05 (UTC-07:00)"
    assert shown(at(2026, 12, 1, 17, 5), LOS_ANGELES) == "2026-12-01 09:05 (UTC-08:00)"
    assert shown(at(2026, 12, 7, 4, 0), KOLKATA) == "2026-12-07 09:30 (UTC+05:30)"
    with pytest.raises(ValueError, match="offset"):
        shown(datetime(2026, 12, 7, 4, 0), SHANGHAI)


def wakes(tz_hour: int, tz: str, start: datetime, days: int, minute: int = 0) -> list[datetime]:
    """The moments an hourly cron (at `minute` past each UTC hour) finds the daily job due."""
    hourly = (start + timedelta(hours=h, minutes=minute) for h in range(24 * days))
    return [t for t in hourly if due(t, zone(tz), tz_hour)]


def test_the_9_oclock_reconciliation_runs_at_01_utc_in_shanghai() -> None:
    runs = wakes(9, "Asia/Shanghai", at(2026, 12, 1), 3)
    assert runs == [at(2026, 12, 1, 1), at(2026, 12, 2, 1), at(2026, 12, 3, 1)]
    assert runs == [day_start_of(d, SHANGHAI) + timedelta(hours=9) for d in (date(2026, 12, n) for n in (1, 2, 3))]


def test_a_schedule_follows_the_setting() -> None:
    assert wakes(9, "America/Los_Angeles", at(2026, 12, 1), 2) == [at(2026, 12, 1, 17), at(2026, 12, 2, 17)]
    assert wakes(9, "America/Los_Angeles", at(2026, 7, 1), 1) == [at(2026, 7, 1, 16)]  # PDT
    assert wakes(9, "Asia/Kolkata", at(2026, 12, 1), 1) == [at(2026, 12, 1, 4)]  # 09:30 there, the first waking


@pytest.mark.parametrize("hour", range(24))
@pytest.mark.parametrize("name", ["Asia/Shanghai", "America/Los_Angeles", "Asia/Kolkata"])
def test_a_daily_job_runs_once_on_every_merchant_day_of_the_year(name: str, hour: int) -> None:
    """Also on the day the clock skips 02:00 (it runs at 03:00) and the day it plays 01:00 twice (once)."""
    tz = zone(name)
    runs = wakes(hour, name, at(2026, 1, 1, 12), 365, minute=40)
    days = [local_day(t, tz) for t in runs]
    assert len(days) == len(set(days)) == 365
    assert all(t.astimezone(tz).hour in (hour, hour + 1) for t in runs)
    assert sum(t.astimezone(tz).hour != hour for t in runs) == (1 if name == "America/Los_Angeles" and hour == 2 else 0)


def test_no_cron_is_pinned_to_an_hour_of_the_workers_own_clock() -> None:
    """arq matches `hour=` in the worker's zone: a daily job wakes hourly and keeps the merchant's hour itself."""
    assert [c.name for c in CRON_JOBS if c.hour is not None or c.day is not None or c.weekday is not None] == []
    assert any(c.coroutine.__name__ == "train_nightly" for c in CRON_JOBS)


def test_a_daily_job_late_in_its_queue_keeps_the_hour_it_was_woken_in() -> None:
    tick = at(2026, 12, 7, 1, 0, 30)  # 09:00:30 in Shanghai; the job starts an hour later, its queue busy
    woke = woken_at({"score": int(tick.timestamp() * 1000)})
    assert woke == tick and due(woke, SHANGHAI, 9)
    assert not due(tick + timedelta(hours=1, minutes=10), SHANGHAI, 9)  # what the start time alone would say
    assert abs(woken_at({}) - utcnow()) < timedelta(seconds=5)  # called by hand: now
