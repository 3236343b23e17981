"""One order's forecast from the current model: what comes next, when, and how sure. Every odd input has a
defined outcome (None, logged once per kind) so a prediction job can never fail a caller."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ml.eventlog import Event
from ml.features import Timeline, features
from ml.registry import Artifact

log = logging.getLogger(__name__)
FINAL = frozenset({"DELIVERED", "COMPLETED", "CANCELLED"})
_said: set[str] = set()


@dataclass(frozen=True)
class Forecast:
    next_stage: str | None
    at: datetime
    low: datetime
    high: datetime
    model_version: int


def forecast(events: Sequence[Event], timeline: Timeline, artifact: Artifact | None) -> Forecast | None:
    """`events` are one order's steps so far (any order: they are sorted here); `timeline` the recent steps
    of all orders, for the workload features."""
    if artifact is None:
        return _none("no promoted model")
    if not events:
        return _none("an order without events")
    prefix = sorted(events, key=lambda e: e.at)
    last = prefix[-1]
    if last.activity in FINAL:
        return None
    row = features(prefix, timeline)
    (guess,) = artifact.model.predict([row])
    return Forecast(
        next_stage=artifact.baseline.successor.get(last.activity),
        at=last.at + timedelta(seconds=guess.seconds),
        low=last.at + timedelta(seconds=guess.low),
        high=last.at + timedelta(seconds=guess.high),
        model_version=artifact.version,
    )


def _none(reason: str) -> None:
    if reason not in _said:
        _said.add(reason)
        log.warning("no next-step forecast: %s", reason)
    return None
