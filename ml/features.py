"""Features of a case as of one moment. Training and serving both call `features`, so they cannot disagree,
and everything it reads is bounded by the prefix's last event: nothing after the moment of prediction."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ml.eventlog import Event

CATEGORICAL = ("activity", "previous_activity", "group")
NUMERIC = (
    "position",
    "previous_gap_s",
    "since_start_s",
    "hour",
    "weekday",
    "events_last_24h",
    "cases_started_last_7d",
)
NAMES = CATEGORICAL + NUMERIC
DAY = timedelta(days=1)


@dataclass
class Timeline:
    """All events seen so far, in time order, for the workload features. Queries are cut at `now`, so
    a timeline holding the whole log answers exactly as one holding only the past would."""

    times: list[datetime] = field(default_factory=list)
    case_starts: list[datetime] = field(default_factory=list)

    @classmethod
    def of(cls, events: Iterable[Event]) -> Timeline:
        ordered = sorted(events, key=lambda e: e.at)
        first: dict[str, datetime] = {}
        for event in ordered:
            first.setdefault(event.case, event.at)
        return cls(times=[e.at for e in ordered], case_starts=sorted(first.values()))

    def events_between(self, start: datetime, now: datetime) -> int:
        return bisect_right(self.times, now) - bisect_right(self.times, start)

    def starts_between(self, start: datetime, now: datetime) -> int:
        return bisect_right(self.case_starts, now) - bisect_left(self.case_starts, start)


Row = tuple[str, str, str, float, float, float, float, float, float, float]


def features(prefix: Sequence[Event], timeline: Timeline) -> Row:
    """The case as it stood at its last event in `prefix`."""
    if not prefix:
        raise ValueError("a prediction needs at least one event of the case")
    last = prefix[-1]
    now = last.at
    previous = prefix[-2] if len(prefix) > 1 else None
    return (
        last.activity,
        previous.activity if previous else "",
        last.group,
        float(len(prefix)),
        (now - previous.at).total_seconds() if previous else -1.0,  # -1: no previous event
        (now - prefix[0].at).total_seconds(),
        now.hour + now.minute / 60,
        float(now.weekday()),
        float(timeline.events_between(now - DAY, now)),
        float(timeline.starts_between(now - 7 * DAY, now)),
    )


@dataclass(frozen=True)
class Example:
    row: Row
    seconds_to_next: float
    case: str
    at: datetime
    next_activity: str = ""


def examples(cases: dict[str, list[Event]], chosen: Iterable[str], timeline: Timeline) -> list[Example]:
    """One example at every event that has a next one: the prefix up to it, and the wait to the next."""
    out: list[Example] = []
    for case in chosen:
        trace = cases[case]
        for k in range(len(trace) - 1):
            prefix = trace[: k + 1]
            wait = (trace[k + 1].at - trace[k].at).total_seconds()
            out.append(Example(features(prefix, timeline), wait, case, trace[k].at, trace[k + 1].activity))
    return out
