"""Evaluation that cannot flatter: cases split by start time, the baseline measured beside the model."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ml.eventlog import Event, by_case, moved, split_by_start, until_last_move
from ml.features import Example, Timeline, examples
from ml.model import Baseline, NextStepModel

UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}


@dataclass(frozen=True)
class Scores:
    prefixes: int
    mae_model: float
    mae_baseline: float
    median_ae_model: float
    median_ae_baseline: float
    coverage90: float
    width90: float

    @property
    def ratio(self) -> float:
        return self.mae_model / self.mae_baseline if self.mae_baseline else float("nan")


@dataclass(frozen=True)
class Report:
    """`calibrated` counts each stage's calibration examples; `own_margin` names the stages widened by a
    margin of their own (the others by the pooled one); `mondrian_min` is the minimum that decided it."""

    unit: str
    overall: Scores
    by_activity: dict[str, Scores]
    calibrated: dict[str, int] = field(default_factory=dict)
    own_margin: frozenset[str] = frozenset()
    mondrian_min: float = math.inf

    def table(self) -> str:
        head = f"{'last activity':<16}{'prefixes':>9}{'MAE':>9}{'base MAE':>10}{'ratio':>7}{'MedAE':>8}"
        head += f"{'base MedAE':>11}{'cov90':>7}{'width90':>9}{'calib':>7}  margin"
        lines = [f"time to next event, {self.unit}", head]
        for name, s in sorted(self.by_activity.items(), key=lambda kv: -kv[1].prefixes):
            margin = "stage" if name in self.own_margin else "pooled"
            lines.append(f"{self._row(name, s)}{self.calibrated.get(name, 0):>7}  {margin}")
        lines.append(f"{self._row('all', self.overall)}{sum(self.calibrated.values()):>7}")
        if math.isinf(self.mondrian_min):
            lines.append("one pooled margin for every stage")
        else:
            lines.append(f"own margin for stages with at least {self.mondrian_min:g} calibration examples")
        return "\n".join(lines)

    @staticmethod
    def _row(name: str, s: Scores) -> str:
        return (
            f"{name:<16}{s.prefixes:>9}{s.mae_model:>9.3f}{s.mae_baseline:>10.3f}{s.ratio:>7.3f}"
            f"{s.median_ae_model:>8.3f}{s.median_ae_baseline:>11.3f}{s.coverage90:>7.1%}{s.width90:>9.2f}"
        )

    def summary(self) -> str:
        s = self.overall
        return json.dumps(
            {
                "unit": self.unit,
                "mae_model": round(s.mae_model, 4),
                "mae_baseline": round(s.mae_baseline, 4),
                "ratio": round(s.ratio, 4),
                "median_ae_model": round(s.median_ae_model, 4),
                "median_ae_baseline": round(s.median_ae_baseline, 4),
                "coverage90": round(s.coverage90, 4),
                "width90": round(s.width90, 4),
                "prefixes": s.prefixes,
                "mondrian_min": None if math.isinf(self.mondrian_min) else self.mondrian_min,
                "by_stage": {
                    k: {
                        "prefixes": v.prefixes,
                        "coverage90": round(v.coverage90, 4),
                        "calibration": self.calibrated.get(k, 0),
                        "own_margin": k in self.own_margin,
                    }
                    for k, v in sorted(self.by_activity.items(), key=lambda kv: -kv[1].prefixes)
                },
            }
        )


def evaluate(
    events: Sequence[Event],
    unit: str = "days",
    train_share: float = 2 / 3,
    held_share: float = 0.2,
    tz: str | None = None,
) -> Report:
    """Train on the earlier cases (the last `held_share` of them held back to calibrate the interval and
    choose its settings), test on the later ones; the baseline learns from the same training cases."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    split = Split.of(events, train_share, held_share, tz)
    model = NextStepModel.fit(split.fit, split.calibration, split.validation)
    baseline = Baseline().fit(split.train)
    return score(model, baseline, split.test, unit)


@dataclass(frozen=True)
class Split:
    """Cases by start time: fit (the trees), calibration (the interval's margins), validation (the choice of
    the calibration's settings), test (the reported figures), each starting no earlier than the one before."""

    fit: list[Example]
    calibration: list[Example]
    validation: list[Example]
    test: list[Example]

    @property
    def train(self) -> list[Example]:
        return [*self.fit, *self.calibration, *self.validation]

    @classmethod
    def of(
        cls, events: Sequence[Event], train_share: float = 2 / 3, held_share: float = 0.2, tz: str | None = None
    ) -> Split:
        """The last `held_share` of the training cases are held back from the trees, the earlier half of them
        to calibrate and the later half to validate. The cases at the log's end that have not moved yet are left
        out (`until_last_move`): they have no wait to test on."""
        everything = by_case(events)
        movers = len(moved(everything))
        if movers < 2:
            raise ValueError(
                f"the event log has {movers} case(s) with two or more events (of {len(everything)} cases, "
                f"{len(events)} events): training and testing need at least 2, one earlier to train on and one "
                "later to test"
            )
        cases = until_last_move(everything)
        train_ids, test_ids = split_by_start(cases, train_share)
        fit_ids, held_ids = split_by_start({c: cases[c] for c in train_ids}, 1 - held_share)
        calib_ids, valid_ids = split_by_start({c: cases[c] for c in held_ids}, 0.5)
        timeline = Timeline.of(events, tz)
        split = cls(
            examples(cases, fit_ids, timeline),
            examples(cases, calib_ids, timeline),
            examples(cases, valid_ids, timeline),
            examples(cases, test_ids, timeline),
        )
        for name, part, share in (("training", split.fit, train_share), ("test", split.test, 1 - train_share)):
            if not part:
                raise ValueError(
                    f"the {name} split has no case with two or more events: {share:.0%} of {len(cases)} cases "
                    "split by start; give more cases or another train_share"
                )
        return split


def score(model: NextStepModel, baseline: Baseline, test: Sequence[Example], unit: str) -> Report:
    scale = UNITS[unit]
    predictions = model.predict([ex.row for ex in test])
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(test):
        groups[str(ex.row[0])].append(i)
    actual = np.array([ex.seconds_to_next for ex in test]) / scale
    point = np.array([p.seconds for p in predictions]) / scale
    low = np.array([p.low for p in predictions]) / scale
    high = np.array([p.high for p in predictions]) / scale
    base = np.array([baseline.predict(ex.row) for ex in test]) / scale

    def scores(idx: Sequence[int]) -> Scores:
        a, p, b = actual[idx], point[idx], base[idx]
        return Scores(
            prefixes=len(idx),
            mae_model=float(np.mean(np.abs(a - p))),
            mae_baseline=float(np.mean(np.abs(a - b))),
            median_ae_model=float(np.median(np.abs(a - p))),
            median_ae_baseline=float(np.median(np.abs(a - b))),
            coverage90=float(np.mean((a >= low[idx]) & (a <= high[idx]))),
            width90=float(np.median(high[idx] - low[idx])),
        )

    return Report(
        unit,
        scores(list(range(len(test)))),
        {k: scores(v) for k, v in groups.items()},
        dict(getattr(model, "calibrated", {})),
        frozenset(getattr(model, "margins", {})),
        getattr(model, "mondrian_min", math.inf),
    )
