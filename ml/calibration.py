"""Split-conformal widening of the quantile trees' interval (CQR), per stage only where the stage has enough
calibration examples for its own margin to be trusted, the pooled margin elsewhere (Mondrian CQR with a
fallback). A stage's margin is the 90% rank of its own conformity scores: from a few dozen scores that rank
is one or two extreme waits, so a thin stage gets a margin far wider (or narrower) than its next cases need.
How many is enough is a setting chosen on a validation slice that follows the calibration slice in time;
the test cases are never an input here."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

LEVEL = 0.9
# Calibration examples a stage needs for a margin of its own when no validation slice is at hand to choose
# one: what `choose_minimum` chose on the helpdesk log's validation slice (ml/README.md, "Calibration").
MONDRIAN_MIN = 200
MINIMUM_CANDIDATES = (50, 100, 200, 400, math.inf)  # inf: the pooled margin for every stage


def conformity(low: np.ndarray, high: np.ndarray, log_wait: np.ndarray) -> np.ndarray:
    """How far each wait (log time) lies outside the trees' interval; negative inside. An example is covered
    by a margin m exactly when its score is at most m."""
    return np.maximum(low - log_wait, log_wait - np.maximum(high, low))


@dataclass(frozen=True)
class Margins:
    pooled: float
    by_stage: dict[str, float] = field(default_factory=dict)
    minimum: float = MONDRIAN_MIN

    @classmethod
    def of(cls, scores: np.ndarray, stages: Sequence[str], minimum: float = MONDRIAN_MIN) -> Margins:
        if not len(scores):
            return cls(math.inf, {}, minimum)
        members: dict[str, list[int]] = defaultdict(list)
        for i, stage in enumerate(stages):
            members[stage].append(i)
        own = {k: _quantile(scores[v]) for k, v in members.items() if len(v) >= minimum}
        return cls(_quantile(scores), own, minimum)

    def margin(self, stage: str) -> float:
        return self.by_stage.get(stage, self.pooled)

    def covered(self, scores: np.ndarray, stages: Sequence[str]) -> np.ndarray:
        return scores <= np.array([self.margin(s) for s in stages])


def miscalibration(covered: np.ndarray, stages: Sequence[str]) -> float:
    """Distance of each stage's coverage from LEVEL, weighted by the stage's examples: a setting that keeps
    the overall figure at 90% by over-covering one stage and under-covering another scores badly."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, stage in enumerate(stages):
        members[stage].append(i)
    return sum(len(v) * abs(float(np.mean(covered[v])) - LEVEL) for v in members.values()) / max(1, len(covered))


def choose_minimum(
    calibration: tuple[np.ndarray, Sequence[str]],
    validation: tuple[np.ndarray, Sequence[str]],
    candidates: Sequence[float] = MINIMUM_CANDIDATES,
) -> float:
    """The candidate whose margins, fitted on the calibration scores, are best calibrated per stage on the
    validation scores; on a tie the larger minimum (fewer margins of their own). It is given the two slices'
    scores and stages and nothing else, so it cannot read the test split."""
    return min(
        candidates,
        key=lambda n: (miscalibration(Margins.of(*calibration, n).covered(*validation), validation[1]), -n),
    )


def _quantile(scores: np.ndarray) -> float:
    """The conformal rank: the ceil((n + 1) * LEVEL)-th smallest score, so the next example is covered with
    probability at least LEVEL."""
    rank = min(len(scores), math.ceil((len(scores) + 1) * LEVEL))
    return float(np.sort(scores)[rank - 1])
