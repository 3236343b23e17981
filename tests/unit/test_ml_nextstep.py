"""Next-step prediction on small synthetic logs: features never see the future, the model beats the median
where the timing depends on something the median ignores, and the interval is calibrated."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from ml.evaluate import evaluate
from ml.eventlog import Columns, Event, by_case, load_csv, split_by_start
from ml.features import NAMES, Timeline, examples, features
from ml.model import Baseline, NextStepModel, Prediction

HELPDESK = Path(__file__).parents[2].parent / "shared/data/eventlogs/helpdesk.csv"


def synthetic_log(cases: int = 600, seed: int = 3) -> list[Event]:
    """Tickets whose wait after 'triage' is long when triaged in the evening: a median per activity cannot see it."""
    rng = random.Random(seed)
    out: list[Event] = []
    start = datetime(2024, 1, 1, 8)
    for n in range(cases):
        at = start + timedelta(hours=n * 3 + rng.random())
        case = f"c{n}"
        out.append(Event(at, case, "open"))
        at += timedelta(minutes=rng.uniform(5, 30))
        out.append(Event(at, case, "triage"))
        evening = at.hour >= 17 or at.hour < 8
        at += timedelta(hours=rng.uniform(12, 16) if evening else rng.uniform(0.5, 1.5))
        out.append(Event(at, case, "close"))
    return out


def write_csv(path: Path, events: list[Event]) -> Path:
    lines = ["case,act,ts"] + [f"{e.case},{e.activity},{e.at.isoformat(sep=' ')}" for e in events]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_serving_features_equal_training_features_and_ignore_the_future() -> None:
    log = synthetic_log(80)
    cases = by_case(log)
    full = Timeline.of(log)
    trained = {(ex.case, ex.at): ex.row for ex in examples(cases, list(cases), full)}
    assert len(trained) == 80 * 2
    for case, trace in list(cases.items())[::7]:
        for k in range(len(trace) - 1):
            now = trace[k].at
            past_only = [e for e in log if e.at <= now]
            served = features(by_case(past_only)[case], Timeline.of(past_only))
            assert served == trained[(case, now)]
    # a future burst of events in other cases changes nothing already computed
    flood = [Event(log[-1].at + timedelta(minutes=i), f"late{i}", "open") for i in range(50)]
    assert features(cases["c10"][:2], Timeline.of(log + flood)) == features(cases["c10"][:2], full)


def test_workload_counts_only_the_past() -> None:
    t0 = datetime(2024, 1, 1)
    log = [Event(t0 + timedelta(hours=h), f"c{h}", "open") for h in range(10)]
    row = features([log[4]], Timeline.of(log))
    assert row[NAMES.index("events_last_24h")] == 5.0  # events in the last 24 h, itself included
    assert row[NAMES.index("cases_started_last_7d")] == 5.0  # cases started in the last 7 days


def test_features_need_an_event() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        features([], Timeline())


def test_split_puts_later_cases_in_the_test() -> None:
    cases = by_case(synthetic_log(30))
    train, test = split_by_start(cases, 2 / 3)
    assert len(train) == 20 and len(test) == 10
    assert max(cases[c][0].at for c in train) < min(cases[c][0].at for c in test)


def test_model_beats_the_median_and_its_interval_covers_about_ninety_percent() -> None:
    report = evaluate(synthetic_log(), unit="hours")
    s = report.overall
    assert s.prefixes == 200 * 2
    assert s.mae_model < 0.5 * s.mae_baseline, report.table()
    assert 0.8 <= s.coverage90 <= 1.0
    assert report.by_activity["triage"].ratio < 0.3


def test_compiled_trees_serve_a_small_model_and_answer_as_scikit_learn_does() -> None:
    """A small log leaves some trees without a categorical split; their numeric splits' bitset index points past
    the last bitset, which the one-row walk must not read."""
    log = synthetic_log(120)
    cases = by_case(log)
    ex = examples(cases, list(cases)[:80], Timeline.of(log))
    model = NextStepModel.fit(ex[:120], ex[120:])
    assert model.compiled is not None
    rows = [e.row for e in ex[:20]]

    def flat(predictions: list[Prediction]) -> list[float]:
        return [v for p in predictions for v in (p.seconds, p.low, p.high)]

    one_by_one = [model.predict([row])[0] for row in rows]  # the compiled walk
    assert flat(one_by_one) == pytest.approx(flat(model.predict(rows)), rel=1e-9)  # scikit-learn's batch


def test_unseen_activity_is_predicted_not_refused() -> None:
    log = synthetic_log(300)
    cases = by_case(log)
    ex = examples(cases, list(cases)[:200], Timeline.of(log))
    model = NextStepModel.fit(ex[:300], ex[300:])
    odd = [Event(datetime(2024, 3, 1, 9), "x", "never-seen")]
    (prediction,) = model.predict([features(odd, Timeline.of(odd))])
    assert 0 <= prediction.low <= prediction.high


def test_csv_columns_and_bad_timestamps_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", synthetic_log(5))
    events = load_csv(path, Columns("case", "act", "ts"))
    assert len(events) == 15 and events[0].activity == "open"
    with pytest.raises(ValueError, match="column 'CaseID' not found"):
        load_csv(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("case,act,ts\nc1,open,2024-01-01 08:00:00\nc1,close,yesterday\n")
    with pytest.raises(ValueError, match="line 3, column 'ts': bad timestamp 'yesterday'"):
        load_csv(bad, Columns("case", "act", "ts"))


def test_cli_prints_the_table_and_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "log.csv", synthetic_log(300))
    args = ["ml", "evaluate", "--event-log", str(path), "--case-col", "case", "--activity-col", "act"]
    assert main([*args, "--time-col", "ts", "--unit", "hours"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "time to next event, hours"
    summary = json.loads(out[-1])
    assert summary["prefixes"] == 200 and summary["mae_model"] < summary["mae_baseline"]
    assert summary["ratio"] == pytest.approx(summary["mae_model"] / summary["mae_baseline"], abs=1e-3)
    assert main(["ml", "evaluate", "--event-log", str(tmp_path / "missing.csv")]) == 2


@pytest.mark.skipif(not HELPDESK.exists(), reason="helpdesk log not present")
def test_helpdesk_loads_with_default_columns_and_its_median_baseline_matches_the_reference() -> None:
    events = load_csv(HELPDESK)
    cases = by_case(events)
    assert len(events) == 13710 and len(cases) == 3804
    train, test = split_by_start(cases, 2 / 3)
    timeline = Timeline.of(events)
    baseline = Baseline().fit(examples(cases, train, timeline))
    held_out = examples(cases, test, timeline)
    mae_days = sum(abs(ex.seconds_to_next - baseline.predict(ex.row)) for ex in held_out) / len(held_out) / 86400
    assert mae_days == pytest.approx(3.05, abs=0.01)  # the README's per-activity median, same protocol


def test_baseline_is_per_activity_and_group_falling_back_to_the_activity(tmp_path: Path) -> None:
    t0 = datetime(2024, 1, 1, 9)
    log: list[Event] = []
    for n in range(40):
        warehouse = "SH" if n % 2 else "GZ"
        at = t0 + timedelta(hours=n)
        log += [
            Event(at, f"o{n}", "PACKED", warehouse),
            Event(at + timedelta(minutes=10 if n % 2 else 70), f"o{n}", "SHIPPED"),
        ]
    path = tmp_path / "orders.csv"
    path.write_text("order,step,at,warehouse\n" + "".join(f"{e.case},{e.activity},{e.at},{e.group}\n" for e in log))
    events = load_csv(path, Columns("order", "step", "at", group="warehouse"))
    assert {e.group for e in events} == {"SH", "GZ", ""}
    cases = by_case(events)
    baseline = Baseline().fit(examples(cases, list(cases), Timeline.of(events)))
    packed_in = {w: features([Event(t0, "x", "PACKED", w)], Timeline()) for w in ("SH", "GZ", "BJ")}
    assert baseline.predict(packed_in["SH"]) == 600
    assert baseline.predict(packed_in["GZ"]) == 4200
    assert baseline.predict(packed_in["BJ"]) == 2400  # a new warehouse: the median over all PACKED waits


def test_a_model_is_promoted_only_when_it_beats_the_baseline_and_the_current_one(tmp_path: Path) -> None:
    from ml.registry import current, train

    models = tmp_path / "models"
    first = train(synthetic_log(300), models, unit="hours", now=datetime(2024, 6, 1, tzinfo=UTC))
    assert first.version == 1 and first.promoted, first.reason
    assert (art := current(models)) is not None and art.version == 1
    again = train(synthetic_log(300), models, unit="hours")  # same history, same model: not strictly better
    assert again.version == 2 and not again.promoted and "current v1" in again.reason
    noise = [Event(datetime(2024, 1, 1) + timedelta(hours=n), f"n{n // 2}", "step") for n in range(120)]
    assert not train(noise, models, unit="hours").promoted
    runs = json.loads((models / "registry.json").read_text())
    assert runs["current"] == 1 and runs["latest"] == 3
    assert runs["runs"][0]["metrics"]["coverage90"] >= 0.8 and runs["runs"][0]["features"][0] == "activity"
    assert runs["runs"][0]["trained_at"] == "2024-06-01T00:00:00+00:00"


def test_too_little_history_trains_nothing_and_a_broken_model_file_means_no_model(tmp_path: Path) -> None:
    from ml.registry import current, train

    models = tmp_path / "models"
    short = train(synthetic_log(10), models)
    assert short.version is None and "too little history" in short.reason and current(models) is None
    assert train(synthetic_log(300), models, unit="hours").promoted
    (models / "model-v1.pkl").write_bytes(b"not a model")
    assert current(models) is None
    (models / "model-v1.pkl").unlink()
    assert current(models) is None


def test_cli_trains_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "log.csv", synthetic_log(300))
    args = ["ml", "train", "--event-log", str(path), "--case-col", "case", "--activity-col", "act", "--time-col", "ts"]
    assert main([*args, "--unit", "hours", "--models-dir", str(tmp_path / "m")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("model v1: promoted: MAE")


def test_serving_forecasts_the_next_stage_and_time_and_has_an_answer_for_odd_input(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ml import serving
    from ml.registry import current, train
    from ml.serving import forecast

    serving._said.clear()  # each kind is logged once per process, and other tests may have logged it already
    log = synthetic_log(300)
    assert train(log, tmp_path, unit="hours").promoted
    artifact = current(tmp_path)
    evening = datetime(2024, 1, 20, 20, 0)
    steps = [Event(evening + timedelta(minutes=20), "new", "triage"), Event(evening, "new", "open")]  # out of order
    result = forecast(steps, Timeline.of(log), artifact)
    assert result is not None and result.next_stage == "close" and result.model_version == 1
    assert timedelta(hours=10) < result.at - steps[0].at < timedelta(hours=18)  # evening triage waits overnight
    assert result.low <= result.at <= result.high
    morning = [Event(datetime(2024, 1, 21, 9), "m", "open"), Event(datetime(2024, 1, 21, 9, 20), "m", "triage")]
    quick = forecast(morning, Timeline.of(log), artifact)
    assert quick is not None and quick.at - morning[-1].at < timedelta(hours=3)
    odd = forecast([Event(evening, "x", "escalated", "new-warehouse")], Timeline(), artifact)
    assert odd is not None and odd.next_stage is None and odd.basis == "BASELINE"  # unseen: the median
    done = [*morning, Event(datetime(2024, 1, 21, 10), "m", "DELIVERED")]
    assert forecast(done, Timeline(), artifact) is None
    with caplog.at_level("WARNING"):
        assert forecast([], Timeline(), artifact) is None
        assert forecast([], Timeline(), artifact) is None
        assert forecast(morning, Timeline(), None) is None
        served = forecast(morning, Timeline(), None, artifact.baseline)
        assert served is not None and served.basis == "BASELINE" and served.model_version is None
    assert [r.getMessage() for r in caplog.records if r.name == "ml.serving"][-3:] == [
        "next-step forecast: none: an order without events",
        "next-step forecast: none: no promoted model",
        "next-step forecast: no promoted model: the per-stage median serves",
    ]


def test_no_forecast_after_a_final_status_a_delivery_or_a_merge(tmp_path: Path) -> None:
    """The stop set derives from the state machine's FINAL, so a VOID order (superseded by a replay) or a
    COMPLETED one gets no forecast; nor does a delivered order (completion is the channel's decision) or a
    merged one (a person splits it). Any other step, even one never seen, gets one."""
    from ml.registry import current, train
    from ml.serving import forecast

    log = synthetic_log(300)
    assert train(log, tmp_path, unit="hours").promoted
    artifact = current(tmp_path)
    at = datetime(2024, 1, 21, 9)
    for status in ("DELIVERED", "COMPLETED", "CANCELLED", "REFUNDED", "MERGED", "VOID"):
        assert forecast([Event(at, "o", status)], Timeline.of(log), artifact) is None, status
    assert forecast([Event(at, "o", "SHIPPED")], Timeline.of(log), artifact) is not None
