"""The time-based split on the logs a working day gives: the latest cases have not moved yet, or there is too
little to split at all."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ml.evaluate import Split, evaluate
from ml.eventlog import Event

START = datetime(2026, 11, 2, 9)
STEPS = ("PAID", "PICKED", "PACKED", "SHIPPED")


def moved_case(n: int, at: datetime) -> list[Event]:
    return [
        Event(at + timedelta(minutes=40 * k + n % 7), f"done-{n}", step, "WH-SH-01") for k, step in enumerate(STEPS)
    ]


def this_mornings_log(finished: int = 60, waiting: int = 40) -> list[Event]:
    """Yesterday's orders went through every step; this morning's are paid and nothing else yet."""
    events = [e for n in range(finished) for e in moved_case(n, START + timedelta(minutes=10 * n))]
    today = START + timedelta(days=1)
    events += [Event(today + timedelta(minutes=n), f"new-{n}", "PAID", "WH-SH-01") for n in range(waiting)]
    return events


def test_cases_not_moved_yet_do_not_empty_the_test_split() -> None:
    """The latest third of the cases are all at their first event: splitting every case put only them in the
    test share, which then had no example, and the nightly training raised ValueError with 60 cases that moved."""
    split = Split.of(this_mornings_log())
    tested = {ex.case for ex in split.test}
    trained = {ex.case for ex in split.train}
    assert len(tested) == 20 and len(trained) == 40 and not tested & trained
    assert all(case.startswith("done-") for case in tested | trained)
    starts = {ex.case: ex.at for ex in sorted([*split.train, *split.test], key=lambda ex: ex.at, reverse=True)}
    assert max(starts[c] for c in trained) <= min(starts[c] for c in tested)
    report = evaluate(this_mornings_log(), unit="minutes")
    assert report.overall.prefixes == 20 * (len(STEPS) - 1)


def test_a_log_too_small_to_split_says_what_it_lacks() -> None:
    one = moved_case(0, START) + [Event(START + timedelta(minutes=n), f"new-{n}", "PAID") for n in range(30)]
    with pytest.raises(ValueError, match=r"has 1 case\(s\) with two or more events \(of 31 cases, 34 events\)"):
        Split.of(one)
    with pytest.raises(ValueError, match="has 0 case"):
        Split.of([])
    with pytest.raises(ValueError, match="the test split has no case with two or more events"):
        Split.of(this_mornings_log(finished=5, waiting=0), train_share=1.0)
