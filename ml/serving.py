"""One order's forecast: what comes next, when, and how sure. Every odd input has a defined outcome, logged
once per kind, so a prediction job can never fail a caller:

- no events, or a final state: None (nothing to predict);
- no promoted model (none trained, too little history, file missing or unreadable): the latest per-stage
  median and its 5-95% spread; with no baseline either, None;
- a stage or warehouse the model never saw: the baseline (which falls back to the stage's median);
- an operator, station, carrier or channel never seen: the model, reading that value as missing;
- steps out of time order: sorted first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.orders.status import FINAL, OrderStatus
from ml.eventlog import Event
from ml.features import Timeline, features
from ml.model import Baseline, Prediction
from ml.registry import Artifact

log = logging.getLogger(__name__)
NOTHING_TO_PREDICT = frozenset(str(status) for status in FINAL | {OrderStatus.DELIVERED, OrderStatus.MERGED})
"""Last steps after which no forecast is made: the order's life ended, or its next move is not a step of the
flow but a decision (completion after the return window, a person splitting a merged group)."""
MODEL = "MODEL"
BASELINE = "BASELINE"
HORIZON_S = 365 * 86400.0  # an uncalibrated interval is unbounded; a date needs a bound
_said: set[str] = set()


@dataclass(frozen=True)
class Forecast:
    next_stage: str | None
    at: datetime
    low: datetime
    high: datetime
    model_version: int | None  # None when the baseline served
    basis: str = MODEL


def forecast(
    events: Sequence[Event], timeline: Timeline, artifact: Artifact | None, baseline: Baseline | None = None
) -> Forecast | None:
    """`events` are one order's steps so far (any order: they are sorted here); `timeline` the recent steps
    of all orders, for the workload features; `baseline` serves when there is no model."""
    if not events:
        return _none("an order without events")
    prefix = sorted(events, key=lambda e: e.at)
    last = prefix[-1]
    if last.activity in NOTHING_TO_PREDICT:
        return None
    row = features(prefix, timeline)
    if artifact is None:
        if baseline is None:
            return _none("no promoted model")
        _say("no promoted model: the per-stage median serves")
        return _from(last, baseline.interval(row), baseline.successor.get(last.activity), None, BASELINE)
    if not artifact.baseline.knows(row):
        _say(f"stage {last.activity!r} or warehouse {last.group!r} never seen in training: the baseline serves")
        guess = artifact.baseline.interval(row)
        return _from(last, guess, artifact.baseline.successor.get(last.activity), None, BASELINE)
    try:
        (guess,) = artifact.model.predict([row])
    except Exception as exc:  # a model that cannot predict must not fail the order
        _say(f"model v{artifact.version} failed ({exc}): the baseline serves")
        guess = artifact.baseline.interval(row)
        return _from(last, guess, artifact.baseline.successor.get(last.activity), None, BASELINE)
    return _from(last, guess, artifact.baseline.successor.get(last.activity), artifact.version, MODEL)


def _from(last: Event, guess: Prediction, stage: str | None, version: int | None, basis: str) -> Forecast:
    point = min(guess.seconds, HORIZON_S)
    return Forecast(
        next_stage=stage,
        at=last.at + timedelta(seconds=point),
        low=last.at + timedelta(seconds=min(guess.low, point)),
        high=last.at + timedelta(seconds=min(max(guess.high, point), HORIZON_S)),
        model_version=version,
        basis=basis,
    )


def _say(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning("next-step forecast: %s", message)


def _none(reason: str) -> None:
    _say(f"none: {reason}")
    return None
