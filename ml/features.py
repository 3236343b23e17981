"""Features of a case as of one moment. Training and serving both call `features`, so they cannot disagree,
and everything it reads is bounded by the prefix's last event: nothing after the moment of prediction."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.clock import zone
from ml.eventlog import Event

CATEGORICAL = ("activity", "previous_activity", "group", "operator", "place", "channel", "carrier")
NUMERIC = (
    "position",
    "previous_gap_s",
    "since_start_s",
    "hour",  # local time of day the current stage was entered: wave cut-offs and night shifts live here
    "weekday",
    "events_last_24h",
    "cases_started_last_7d",
    "items",
    "lines",
    "open_in_stage",  # cases in the same stage and group right now: the queue in front of this one
    "group_steps_last_2h",  # steps the group recorded in the last two hours: its recent throughput
)
NAMES = CATEGORICAL + NUMERIC
DAY = timedelta(days=1)
THROUGHPUT_SPAN = timedelta(hours=2)
QUEUE_SPAN = timedelta(days=3)  # a case sitting in a stage longer than this is stuck, not queued


@dataclass
class Timeline:
    """All events seen so far, in time order, for the workload features. Queries are cut at `now`, so
    a timeline holding the whole log answers exactly as one holding only the past would. `tz` names the
    clock of the hour and weekday features when event times are UTC (orders); None when they are local."""

    times: list[datetime] = field(default_factory=list)
    case_starts: list[datetime] = field(default_factory=list)
    entries: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)
    exits: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)
    group_times: dict[str, list[datetime]] = field(default_factory=dict)
    tz: str | None = None

    @classmethod
    def of(cls, events: Iterable[Event], tz: str | None = None) -> Timeline:
        ordered = sorted(events, key=lambda e: e.at)
        first: dict[str, datetime] = {}
        current: dict[str, tuple[str, str]] = {}
        entries: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        exits: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        group_times: dict[str, list[datetime]] = defaultdict(list)
        for event in ordered:
            first.setdefault(event.case, event.at)
            left = current.get(event.case)
            if left is not None:
                exits[left].append(event.at)
            current[event.case] = (event.activity, event.group)
            entries[(event.activity, event.group)].append(event.at)
            group_times[event.group].append(event.at)
        return cls(
            times=[e.at for e in ordered],
            case_starts=sorted(first.values()),
            entries=dict(entries),
            exits=dict(exits),
            group_times=dict(group_times),
            tz=tz,
        )

    def events_between(self, start: datetime, now: datetime) -> int:
        return bisect_right(self.times, now) - bisect_right(self.times, start)

    def starts_between(self, start: datetime, now: datetime) -> int:
        return bisect_right(self.case_starts, now) - bisect_left(self.case_starts, start)

    def open_in(self, activity: str, group: str, now: datetime) -> int:
        """Cases that entered (activity, group) in the last QUEUE_SPAN and had not left it by `now`."""
        since = now - QUEUE_SPAN
        entered = _count(self.entries.get((activity, group), []), since, now)
        left = _count(self.exits.get((activity, group), []), since, now)
        return max(0, entered - left)

    def group_steps(self, group: str, start: datetime, now: datetime) -> int:
        return _count(self.group_times.get(group, []), start, now)

    def local(self, at: datetime) -> datetime:
        if self.tz is None:
            return at
        return at.replace(tzinfo=UTC).astimezone(zone(self.tz))


def _count(times: list[datetime], start: datetime, now: datetime) -> int:
    return bisect_right(times, now) - bisect_right(times, start)


Row = tuple[str | float, ...]


def features(prefix: Sequence[Event], timeline: Timeline) -> Row:
    """The case as it stood at its last event in `prefix`."""
    if not prefix:
        raise ValueError("a prediction needs at least one event of the case")
    last = prefix[-1]
    now = last.at
    previous = prefix[-2] if len(prefix) > 1 else None
    local = timeline.local(now)
    return (
        last.activity,
        previous.activity if previous else "",
        last.group,
        last.operator,
        last.place,
        last.channel,
        last.carrier,
        float(len(prefix)),
        (now - previous.at).total_seconds() if previous else -1.0,  # -1: no previous event
        (now - prefix[0].at).total_seconds(),
        local.hour + local.minute / 60,
        float(local.weekday()),
        float(timeline.events_between(now - DAY, now)),
        float(timeline.starts_between(now - 7 * DAY, now)),
        float(last.items),
        float(last.lines),
        float(timeline.open_in(last.activity, last.group, now)),
        float(timeline.group_steps(last.group, now - THROUGHPUT_SPAN, now)),
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
