"""Versioned model artifacts in a directory: each training run writes a file and a record, and a new model
replaces the current one only if it beats both the baseline and the current model on the same holdout.

The record of runs (which version is current, why each was or was not promoted) is kept in one place:
orderhub's `next_step_model` table when it trains on its own orders (the caller passes the table's
`RegistryIndex` in and writes the returned run there), or `registry.json` beside the artifacts when it
trains on a foreign event log with no database.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.prediction.service import RegistryIndex
from ml.evaluate import Report, Split, score
from ml.eventlog import Event, by_case, moved
from ml.features import NAMES, Timeline, examples
from ml.model import Baseline, NextStepModel

log = logging.getLogger(__name__)
MIN_CASES = 30
INDEX = "registry.json"
BASELINE = "baseline.pkl"


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
    run: dict[str, Any] | None = None


def current(directory: Path, version: int | None = None) -> Artifact | None:
    """The promoted model (`version`, or registry.json's current one), or None when there is none or its
    file is missing or unreadable (logged): the caller then serves the baseline rather than failing."""
    if version is None:
        version = _index(directory).get("current")
    if version is None:
        return None
    artifact = _load(directory / f"model-v{version}.pkl", f"model v{version}")
    if artifact is not None and not isinstance(artifact, Artifact):
        _once(f"model v{version} in {directory} is not a model artifact; serving the baseline")
        return None
    return artifact


def latest_baseline(directory: Path) -> Baseline | None:
    """The per-stage medians of the last training run, kept even when its model was not promoted or there
    was too little history for a model at all."""
    baseline = _load(directory / BASELINE, "baseline")
    return baseline if isinstance(baseline, Baseline) else None


def _load(path: Path, what: str) -> Any:
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        _once(f"{what}: no file at {path}")
    except Exception as exc:  # a damaged file must not stop predictions
        _once(f"{what} at {path} unusable ({exc})")
    return None


_said: set[str] = set()


def _once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning("%s", message)


def train(
    events: Sequence[Event],
    directory: Path,
    unit: str = "minutes",
    now: datetime | None = None,
    *,
    index: RegistryIndex | None = None,
    tz: str | None = None,
) -> Decision:
    """With `index` (the database's registry) nothing but artifacts is written here and the run is returned
    for the caller to record; without it, registry.json is the record."""
    directory.mkdir(parents=True, exist_ok=True)
    stored = _index(directory) if index is None else {}
    current_version = stored.get("current") if index is None else index.current
    version = (int(stored.get("latest", 0)) if index is None else index.latest) + 1
    trained_at = (now or datetime.now(UTC)).isoformat()
    cases = by_case(events)
    _save(directory / BASELINE, Baseline().fit(examples(cases, list(cases), Timeline.of(events, tz))))
    if len(moved(cases)) < MIN_CASES:
        reason = (
            f"too little history: {len(moved(cases))} cases with two or more events, need {MIN_CASES}; "
            "the baseline serves"
        )
        run = {"version": None, "trained_at": trained_at, "promoted": False, "reason": reason}
        if index is None:
            _record(directory, stored, run)
        return Decision(None, False, reason, None, run)
    split = Split.of(events, tz=tz)
    model = NextStepModel.fit(split.fit, split.calibration, split.validation)
    baseline = Baseline().fit(split.train)
    report = score(model, baseline, split.test, unit)
    mine = report.overall.mae_model
    reason = f"MAE {mine:.4g} {unit} against the baseline's {report.overall.mae_baseline:.4g}"
    promoted = mine < report.overall.mae_baseline
    incumbent = current(directory, current_version) if current_version is not None else None
    if promoted and incumbent is not None:
        theirs = score(incumbent.model, baseline, split.test, unit).overall.mae_model
        reason += f" and current v{incumbent.version}'s {theirs:.4g}"
        promoted = mine < theirs
    reason = ("promoted: " if promoted else "kept the current model: ") + reason
    _save(directory / f"model-v{version}.pkl", Artifact(version, model, baseline))
    times = sorted(e.at for e in events)
    run = {
        "version": version,
        "trained_at": trained_at,
        "window": [times[0].isoformat(), times[-1].isoformat()],
        "features": list(NAMES),
        "metrics": asdict(report.overall) | {"unit": unit},
        "promoted": promoted,
        "reason": reason,
    }
    if index is None:
        stored["latest"] = version
        if promoted:
            stored["current"] = version
        _record(directory, stored, run)
    return Decision(version, promoted, reason, report, run)


def save(directory: Path, artifact: Artifact) -> Path:
    """Writes a model file as a training run would (benches and demos that fit a model themselves)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model-v{artifact.version}.pkl"
    _save(path, artifact)
    _save(directory / BASELINE, artifact.baseline)
    return path


def _save(path: Path, value: Any) -> None:
    """Written beside and renamed, so a reader never sees half a file."""
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as handle:
        pickle.dump(value, handle)
    partial.replace(path)


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
