"""Versioned model artifacts in a directory: each training run writes a file and a record, and a new model
replaces the current one only if it beats both the baseline and the current model on the same holdout."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.evaluate import Report, Split, score
from ml.eventlog import Event
from ml.features import NAMES
from ml.model import Baseline, NextStepModel

log = logging.getLogger(__name__)
MIN_CASES = 30
INDEX = "registry.json"


@dataclass(frozen=True)
class Artifact:
    version: int
    model: NextStepModel
    baseline: Baseline


@dataclass(frozen=True)
class Decision:
    version: int | None
    promoted: bool
    reason: str
    report: Report | None


def current(directory: Path) -> Artifact | None:
    """The promoted model, or None when there is none or its file is missing or unreadable (logged once
    per call): the caller then serves the baseline rather than failing."""
    index = _index(directory)
    version = index.get("current")
    if version is None:
        return None
    path = directory / f"model-v{version}.pkl"
    try:
        with open(path, "rb") as handle:
            artifact = pickle.load(handle)
    except Exception as exc:  # a damaged file must not stop predictions
        log.warning("model v%s at %s unusable (%s); serving the baseline", version, path, exc)
        return None
    if not isinstance(artifact, Artifact):
        log.warning("model v%s at %s is not a model artifact; serving the baseline", version, path)
        return None
    return artifact


def train(events: Sequence[Event], directory: Path, unit: str = "minutes", now: datetime | None = None) -> Decision:
    directory.mkdir(parents=True, exist_ok=True)
    index = _index(directory)
    version = int(index.get("latest", 0)) + 1
    trained_at = (now or datetime.now(UTC)).isoformat()
    cases = {e.case for e in events}
    if len(cases) < MIN_CASES:
        decision = Decision(None, False, f"too little history: {len(cases)} cases, need {MIN_CASES}", None)
        _record(directory, index, {"trained_at": trained_at, "promoted": False, "reason": decision.reason})
        return decision
    split = Split.of(events)
    model = NextStepModel.fit(split.fit, split.calibration)
    baseline = Baseline().fit([*split.fit, *split.calibration])
    report = score(model, baseline, split.test, unit)
    mine = report.overall.mae_model
    reason = f"MAE {mine:.4g} {unit} against the baseline's {report.overall.mae_baseline:.4g}"
    promoted = mine < report.overall.mae_baseline
    incumbent = current(directory)
    if promoted and incumbent is not None:
        theirs = score(incumbent.model, baseline, split.test, unit).overall.mae_model
        reason += f" and current v{incumbent.version}'s {theirs:.4g}"
        promoted = mine < theirs
    reason = ("promoted: " if promoted else "kept the current model: ") + reason
    with open(directory / f"model-v{version}.pkl", "wb") as handle:
        pickle.dump(Artifact(version, model, baseline), handle)
    times = sorted(e.at for e in events)
    record = {
        "version": version,
        "trained_at": trained_at,
        "window": [times[0].isoformat(), times[-1].isoformat()],
        "features": list(NAMES),
        "metrics": asdict(report.overall) | {"unit": unit},
        "promoted": promoted,
        "reason": reason,
    }
    index["latest"] = version
    if promoted:
        index["current"] = version
    _record(directory, index, record)
    return Decision(version, promoted, reason, report)


def _index(directory: Path) -> dict[str, Any]:
    path = directory / INDEX
    if not path.exists():
        return {"runs": []}
    try:
        loaded = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not a model registry ({exc})") from exc
    return dict(loaded)


def _record(directory: Path, index: dict[str, Any], run: dict[str, Any]) -> None:
    index.setdefault("runs", []).append(run)
    (directory / INDEX).write_text(json.dumps(index, indent=2))
