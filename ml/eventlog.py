"""Event logs as (case, activity, time) triples, from any CSV, so orders and foreign logs share one pipeline."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, order=True)
class Event:
    at: datetime
    case: str
    activity: str
    group: str = ""  # where the step happens (e.g. the warehouse); "" when the log does not say
    # What an order's log says beside the step; empty (or 0) when the log does not say.
    operator: str = ""  # who handled the step
    place: str = ""  # the zone or station of the step
    channel: str = ""
    carrier: str = ""
    items: int = 0  # basket size: units
    lines: int = 0  # basket size: order lines


@dataclass(frozen=True)
class Columns:
    case: str = "CaseID"
    activity: str = "ActivityID"
    time: str = "CompleteTimestamp"
    group: str | None = None


def load_csv(path: Path | str, columns: Columns = Columns()) -> list[Event]:
    """Read a CSV log; a missing column or a bad timestamp names the column and line."""
    events: list[Event] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for wanted in (columns.case, columns.activity, columns.time, columns.group):
            if wanted is None:
                continue
            if wanted not in header:
                raise ValueError(f"{path}: column {wanted!r} not found (columns: {', '.join(header)})")
        for row in reader:
            raw = row[columns.time]
            try:
                at = datetime.fromisoformat(raw.strip())
            except (ValueError, AttributeError):
                raise ValueError(
                    f"{path}: line {reader.line_num}, column {columns.time!r}: bad timestamp {raw!r}"
                ) from None
            group = row[columns.group] if columns.group else ""
            events.append(Event(at.replace(tzinfo=None), row[columns.case], row[columns.activity], group or ""))
    return events


def by_case(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Each case's events in time order; ties keep file order, since logs record simultaneous steps in sequence."""
    cases: dict[str, list[Event]] = {}
    for event in events:
        cases.setdefault(event.case, []).append(event)
    for trace in cases.values():
        trace.sort(key=lambda e: e.at)
    return cases


def moved(cases: dict[str, list[Event]]) -> dict[str, list[Event]]:
    """Cases with two or more events: only they have a wait to learn from or to test on."""
    return {case: trace for case, trace in cases.items() if len(trace) > 1}


def until_last_move(cases: dict[str, list[Event]]) -> dict[str, list[Event]]:
    """The cases that started no later than the last case that moved. A live log ends with cases still at their
    first event (orders paid this morning): a split by start would give the test share to them alone and leave it
    without an example. Single-event cases among moved ones stay, so a log that split before splits the same."""
    last = max(((trace[0].at, case) for case, trace in moved(cases).items()), default=None)
    if last is None:
        return {}
    return {case: trace for case, trace in cases.items() if (trace[0].at, case) <= last}


def split_by_start(cases: dict[str, list[Event]], fraction: float) -> tuple[list[str], list[str]]:
    """Cases ordered by their first event: the earlier `fraction` first, so the test never precedes training."""
    order = sorted(cases, key=lambda c: (cases[c][0].at, c))
    cut = round(len(order) * fraction)
    return order[:cut], order[cut:]


def starts(cases: dict[str, list[Event]]) -> Sequence[datetime]:
    return sorted(trace[0].at for trace in cases.values())
