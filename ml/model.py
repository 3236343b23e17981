"""Time to the next event: gradient-boosted trees on log time with a split-conformal 90% interval, and the
per-activity median that any model must beat."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from ml.features import CATEGORICAL, NAMES, Example, Row

LEVEL = 0.9


@dataclass
class Encoder:
    """Categories to codes; a value never seen in training becomes missing rather than an error."""

    vocab: dict[str, dict[str, int]] = field(default_factory=dict)

    def fit(self, rows: Sequence[Row]) -> Encoder:
        for i, name in enumerate(CATEGORICAL):
            values = sorted({str(r[i]) for r in rows})
            self.vocab[name] = {v: n for n, v in enumerate(values)}
        return self

    def transform(self, rows: Sequence[Row]) -> np.ndarray:
        matrix = np.empty((len(rows), len(NAMES)), dtype=float)
        for j, row in enumerate(rows):
            for i, value in enumerate(row):
                if i < len(CATEGORICAL):
                    code = self.vocab[CATEGORICAL[i]].get(str(value))
                    matrix[j, i] = math.nan if code is None else code
                else:
                    matrix[j, i] = float(value)
        return matrix


@dataclass(frozen=True)
class Prediction:
    seconds: float
    low: float
    high: float


@dataclass
class Baseline:
    """Median wait per (last activity, group) (what a person would quote); for a pair never seen, the
    activity's median, then the overall median."""

    medians: dict[tuple[str, str], float] = field(default_factory=dict)
    by_activity: dict[str, float] = field(default_factory=dict)
    overall: float = 0.0
    successor: dict[str, str] = field(default_factory=dict)

    def fit(self, examples: Sequence[Example]) -> Baseline:
        pairs: dict[tuple[str, str], list[float]] = defaultdict(list)
        activities: dict[str, list[float]] = defaultdict(list)
        for ex in examples:
            pairs[(ex.row[0], ex.row[2])].append(ex.seconds_to_next)
            activities[ex.row[0]].append(ex.seconds_to_next)
        self.medians = {k: float(np.median(v)) for k, v in pairs.items()}
        self.by_activity = {k: float(np.median(v)) for k, v in activities.items()}
        self.overall = float(np.median([ex.seconds_to_next for ex in examples])) if examples else 0.0
        following: dict[str, Counter[str]] = defaultdict(Counter)
        for ex in examples:
            following[ex.row[0]][ex.next_activity] += 1
        self.successor = {k: c.most_common(1)[0][0] for k, c in following.items()}
        return self

    def predict(self, row: Row) -> float:
        pair = self.medians.get((row[0], row[2]))
        return pair if pair is not None else self.by_activity.get(row[0], self.overall)


@dataclass
class NextStepModel:
    """Point: trees minimising absolute error on all training cases (the mean absolute error is what is
    judged). Interval: 5%/95% quantile trees on log time, fitted without the calibration slice and then
    widened by split-conformal calibration on it (CQR), so the 90% is measured, not assumed."""

    encoder: Encoder
    point: HistGradientBoostingRegressor
    low: HistGradientBoostingRegressor
    high: HistGradientBoostingRegressor
    margin: float

    @classmethod
    def fit(cls, train: Sequence[Example], calibration: Sequence[Example], seed: int = 0) -> NextStepModel:
        every = list(train) + list(calibration)
        encoder = Encoder().fit([ex.row for ex in every])
        x_all = encoder.transform([ex.row for ex in every])
        point = _trees("absolute_error", seed, len(every)).fit(x_all, np.array([ex.seconds_to_next for ex in every]))
        x_fit, y_fit = encoder.transform([ex.row for ex in train]), _log([ex.seconds_to_next for ex in train])
        low = _trees("quantile", seed, len(train), (1 - LEVEL) / 2).fit(x_fit, y_fit)
        high = _trees("quantile", seed, len(train), (1 + LEVEL) / 2).fit(x_fit, y_fit)
        model = cls(encoder, point, low, high, math.inf)
        if calibration:
            x_cal = encoder.transform([ex.row for ex in calibration])
            y_cal = _log([ex.seconds_to_next for ex in calibration])
            conformity = np.maximum(low.predict(x_cal) - y_cal, y_cal - high.predict(x_cal))
            rank = min(len(conformity), math.ceil((len(conformity) + 1) * LEVEL))
            model.margin = float(np.sort(conformity)[rank - 1])
        return model

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        if not rows:
            return []
        x = self.encoder.transform(rows)
        point, low, high = self.point.predict(x), self.low.predict(x), self.high.predict(x)
        return [
            Prediction(
                seconds=max(0.0, float(p)),
                low=max(0.0, float(np.expm1(lo - self.margin))),
                high=float(np.expm1(max(hi, lo) + self.margin)),
            )
            for p, lo, hi in zip(point, low, high, strict=True)
        ]


def _trees(loss: str, seed: int, rows: int, quantile: float | None = None) -> HistGradientBoostingRegressor:
    """Leaves of at least 100 examples on a long history, fewer on a short one so that it can still split."""
    return HistGradientBoostingRegressor(
        loss=loss,
        quantile=quantile,
        categorical_features=list(range(len(CATEGORICAL))),
        max_iter=200,
        learning_rate=0.03,
        min_samples_leaf=min(100, max(10, rows // 40)),
        early_stopping=False,
        random_state=seed,
    )


def _log(seconds: Sequence[float]) -> np.ndarray:
    return np.log1p(np.maximum(np.asarray(seconds, dtype=float), 0.0))
