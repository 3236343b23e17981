"""Time to the next event: gradient-boosted trees on log time with a split-conformal 90% interval, and the
per-activity median that any model must beat."""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import ThreadpoolController

from ml.calibration import LEVEL, MONDRIAN_MIN, Margins, choose_minimum, conformity
from ml.compiled import CompiledTrees
from ml.features import CATEGORICAL, NAMES, Example, Row

log = logging.getLogger(__name__)
_THREADS = ThreadpoolController()


def _one_thread() -> Any:
    """The trees' OpenMP threads spin while waiting for each other: on a machine whose few cores other
    processes share (a worker beside the API, CI), training ran 13 times slower with them than without,
    and one row at a time gains nothing from them."""
    return _THREADS.limit(limits=1, user_api="openmp")


MAX_CATEGORIES = 250  # the trees bin a category into at most 255 bins; rarer values read as missing


@dataclass
class Encoder:
    """Categories to codes; a value never seen in training (or too rare to keep) becomes missing rather than
    an error."""

    vocab: dict[str, dict[str, int]] = field(default_factory=dict)

    def fit(self, rows: Sequence[Row]) -> Encoder:
        for i, name in enumerate(CATEGORICAL):
            counts = Counter(str(r[i]) for r in rows)
            kept = sorted(v for v, _ in counts.most_common(MAX_CATEGORIES))
            self.vocab[name] = {v: n for n, v in enumerate(kept)}
        return self

    def transform(self, rows: Sequence[Row]) -> np.ndarray:
        width = len(CATEGORICAL)
        matrix = np.empty((len(rows), len(NAMES)), dtype=float)
        if not rows:
            return matrix
        columns = list(zip(*rows, strict=True))
        for i, name in enumerate(CATEGORICAL):
            vocab = self.vocab[name]
            matrix[:, i] = [vocab.get(str(v), math.nan) for v in columns[i]]
        matrix[:, width:] = np.asarray(columns[width:], dtype=float).T
        return matrix

    def knows(self, name: str, value: str) -> bool:
        return value in self.vocab.get(name, {})


@dataclass(frozen=True)
class Prediction:
    seconds: float
    low: float
    high: float


@dataclass
class Baseline:
    """Median wait per (last activity, group) (what a person would quote); for a pair never seen, the
    activity's median, then the overall median. The 5% and 95% quantiles of the same waits give the
    interval it serves with when no model does."""

    medians: dict[tuple[str, str], float] = field(default_factory=dict)
    by_activity: dict[str, float] = field(default_factory=dict)
    overall: float = 0.0
    successor: dict[str, str] = field(default_factory=dict)
    spread: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    spread_by_activity: dict[str, tuple[float, float]] = field(default_factory=dict)
    spread_overall: tuple[float, float] = (0.0, 0.0)

    def fit(self, examples: Sequence[Example]) -> Baseline:
        pairs: dict[tuple[str, str], list[float]] = defaultdict(list)
        activities: dict[str, list[float]] = defaultdict(list)
        for ex in examples:
            pairs[(str(ex.row[0]), str(ex.row[2]))].append(ex.seconds_to_next)
            activities[str(ex.row[0])].append(ex.seconds_to_next)
        self.medians = {k: float(np.median(v)) for k, v in pairs.items()}
        self.by_activity = {k: float(np.median(v)) for k, v in activities.items()}
        self.spread = {k: _spread(v) for k, v in pairs.items()}
        self.spread_by_activity = {k: _spread(v) for k, v in activities.items()}
        self.overall = float(np.median([ex.seconds_to_next for ex in examples])) if examples else 0.0
        self.spread_overall = _spread([ex.seconds_to_next for ex in examples]) if examples else (0.0, 0.0)
        following: dict[str, Counter[str]] = defaultdict(Counter)
        for ex in examples:
            following[str(ex.row[0])][ex.next_activity] += 1
        self.successor = {k: c.most_common(1)[0][0] for k, c in following.items()}
        return self

    def predict(self, row: Row) -> float:
        pair = self.medians.get((str(row[0]), str(row[2])))
        return pair if pair is not None else self.by_activity.get(str(row[0]), self.overall)

    def interval(self, row: Row) -> Prediction:
        key = (str(row[0]), str(row[2]))
        low, high = self.spread.get(key) or self.spread_by_activity.get(str(row[0])) or self.spread_overall
        return Prediction(self.predict(row), low, high)

    def knows(self, row: Row) -> bool:
        """Whether the stage and group of `row` were both seen in training."""
        return (str(row[0]), str(row[2])) in self.medians


def _spread(waits: Sequence[float]) -> tuple[float, float]:
    low, high = np.quantile(np.asarray(waits, dtype=float), [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


@dataclass
class NextStepModel:
    """Point: trees minimising absolute error on all training cases (the mean absolute error is what is
    judged). Interval: 5%/95% quantile trees on log time, fitted without the calibration and validation
    slices and then widened by split-conformal calibration on them (CQR), so the 90% is measured, not
    assumed. The widening is per stage where calibration holds at least `mondrian_min` of that stage (the
    quantile trees are off by different amounts at different stages), pooled elsewhere (ml/calibration.py)."""

    encoder: Encoder
    point: HistGradientBoostingRegressor
    low: HistGradientBoostingRegressor
    high: HistGradientBoostingRegressor
    margin: float  # the pooled margin
    compiled: CompiledTrees | None = None  # the same trees for one order at a time; None: scikit-learn serves
    margins: dict[str, float] = field(default_factory=dict)  # per stage; `margin` for the others
    mondrian_min: float = MONDRIAN_MIN
    calibrated: dict[str, int] = field(default_factory=dict)  # calibration examples per stage

    @classmethod
    def fit(
        cls,
        train: Sequence[Example],
        calibration: Sequence[Example],
        validation: Sequence[Example] = (),
        seed: int = 0,
    ) -> NextStepModel:
        """With a `validation` slice (later than `calibration`), the minimum per stage is chosen on it, then
        the margins are refitted on both slices; without one, MONDRIAN_MIN holds."""
        with _one_thread():
            return cls._fit(train, calibration, validation, seed)

    @classmethod
    def _fit(
        cls, train: Sequence[Example], calibration: Sequence[Example], validation: Sequence[Example], seed: int
    ) -> NextStepModel:
        every = [*train, *calibration, *validation]
        encoder = Encoder().fit([ex.row for ex in every])
        x_all = encoder.transform([ex.row for ex in every])
        point = _trees("absolute_error", seed, len(every)).fit(x_all, np.array([ex.seconds_to_next for ex in every]))
        x_fit, y_fit = encoder.transform([ex.row for ex in train]), _log([ex.seconds_to_next for ex in train])
        low = _trees("quantile", seed, len(train), (1 - LEVEL) / 2).fit(x_fit, y_fit)
        high = _trees("quantile", seed, len(train), (1 + LEVEL) / 2).fit(x_fit, y_fit)
        model = cls(encoder, point, low, high, math.inf)
        held = [*calibration, *validation]
        if held:
            x_held = encoder.transform([ex.row for ex in held])
            scores = conformity(low.predict(x_held), high.predict(x_held), _log([ex.seconds_to_next for ex in held]))
            stages = [str(ex.row[0]) for ex in held]
            cut = len(calibration)
            if validation and calibration:
                model.mondrian_min = choose_minimum((scores[:cut], stages[:cut]), (scores[cut:], stages[cut:]))
            margins = Margins.of(scores, stages, model.mondrian_min)
            model.margin, model.margins = margins.pooled, margins.by_stage
            model.calibrated = dict(Counter(stages))
        model.compiled = _compile(model, x_all[:200])
        return model

    def predict(self, rows: Sequence[Row]) -> list[Prediction]:
        if not rows:
            return []
        x = self.encoder.transform(rows)
        compiled = getattr(self, "compiled", None)
        if len(rows) == 1 and compiled is not None:
            point, low, high = ([v] for v in compiled.predict_one(x[0]))
        else:
            with _one_thread():
                point, low, high = self.point.predict(x), self.low.predict(x), self.high.predict(x)
        margins = getattr(self, "margins", {})
        widen = [margins.get(str(row[0]), self.margin) for row in rows]
        return [
            Prediction(
                seconds=max(0.0, float(p)),
                low=max(0.0, float(np.expm1(lo - m))),
                high=float(np.expm1(max(hi, lo) + m)),
            )
            for p, lo, hi, m in zip(point, low, high, widen, strict=True)
        ]


def _compile(model: NextStepModel, sample: np.ndarray) -> CompiledTrees | None:
    """The walk over flattened trees, kept only if it gives scikit-learn's answers on `sample`."""
    trees = [model.point, model.low, model.high]
    try:
        compiled = CompiledTrees.of(trees, len(CATEGORICAL))
        ours = np.array([compiled.predict_one(row) for row in sample])
    except Exception as exc:  # a scikit-learn whose internals moved: its own predict still works
        log.warning("trees not compiled (%s); predictions use scikit-learn", exc)
        return None
    with _one_thread():
        theirs = np.column_stack([t.predict(sample) for t in trees])
    if not np.allclose(ours, theirs, rtol=1e-9, atol=1e-9):
        log.warning("compiled trees disagree with scikit-learn; predictions use scikit-learn")
        return None
    return compiled


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
