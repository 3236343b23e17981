"""The merchant's quiet hours: pushes that fall in them wait for their end, on the merchant's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from domain.clock import local, zone


@dataclass(frozen=True)
class QuietHours:
    """`start` to `end` on the merchant's clock; a span past midnight (22:00 to 08:00) wraps. None: no quiet hours."""

    start: time | None
    end: time | None
    timezone: str

    def release(self, now: datetime) -> datetime:
        """`now` outside the quiet hours, else the moment they end (UTC)."""
        if self.start is None or self.end is None or self.start == self.end:
            return now
        tz = zone(self.timezone)
        at = local(now, tz)
        clock = at.time().replace(tzinfo=None)
        end_today = datetime.combine(at.date(), self.end, tz)
        if self.start < self.end:
            quiet, end = self.start <= clock < self.end, end_today
        else:
            quiet = clock >= self.start or clock < self.end
            end = end_today + timedelta(days=1) if clock >= self.start else end_today
        return end.astimezone(UTC) if quiet else now
