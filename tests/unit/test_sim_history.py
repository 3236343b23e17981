"""The simulated floor is learnable and honest: its waits depend on waves, shifts, operators, queues, baskets
and carriers, the model finds those effects without reading the floor's parameters, and on the held-out
later weeks it beats the per-(stage, warehouse) median by the margin the issue asks for."""

from __future__ import annotations

from datetime import date
from statistics import mean

import pytest

from ml.evaluate import Split, score
from ml.features import NAMES
from ml.model import Baseline, NextStepModel
from sim.history import simulate_history

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def fitted() -> tuple[Split, NextStepModel, Baseline]:
    events = simulate_history(1, date(2026, 9, 7), days=28, orders_per_day=100)
    split = Split.of(events, tz=TZ)
    model = NextStepModel.fit(split.fit, split.calibration, split.validation)
    return split, model, Baseline().fit(split.train)


def test_history_is_deterministic_and_shaped_like_the_order_log() -> None:
    first = simulate_history(5, date(2026, 9, 7), days=2, orders_per_day=30)
    assert first == simulate_history(5, date(2026, 9, 7), days=2, orders_per_day=30)
    assert len(first) == 60 * 6
    trace = [e for e in first if e.case == first[0].case]
    assert [e.activity for e in trace] == ["PAID", "SHIP_REQUESTED", "PICKED", "PACKED", "SHIPPED", "DELIVERED"]
    assert [e.at for e in trace] == sorted(e.at for e in trace)
    assert trace[2].operator and trace[3].carrier and trace[0].items >= trace[0].lines >= 1


def test_model_beats_the_stage_and_warehouse_median_with_a_calibrated_interval(
    fitted: tuple[Split, NextStepModel, Baseline],
) -> None:
    split, model, baseline = fitted
    report = score(model, baseline, split.test, "minutes")
    overall = report.overall
    assert overall.mae_model <= 0.7 * overall.mae_baseline, report.table()
    assert 0.87 <= overall.coverage90 <= 0.93, report.table()


def test_model_found_the_effects_the_floor_put_in(fitted: tuple[Split, NextStepModel, Baseline]) -> None:
    """Error by segment and predictions by segment, on held-out orders only."""
    split, model, baseline = fitted
    test = split.test
    predicted = [p.seconds / 60 for p in model.predict([ex.row for ex in test])]
    col = {name: i for i, name in enumerate(NAMES)}

    def mean_of(rows: list[int]) -> float:
        return mean(predicted[i] for i in rows)

    def where(stage: str, **equal: object) -> list[int]:
        return [
            i for i, ex in enumerate(test)
            if ex.row[0] == stage and all(ex.row[col[k]] == v for k, v in equal.items())
        ]  # fmt: skip

    # wave cut-off: paid after Shanghai's last wave (20:30) waits for the morning; paid at 10:00 does not
    late = [i for i in where("PAID", group="WH-SH-01") if float(test[i].row[col["hour"]]) >= 21]
    morning = [i for i in where("PAID", group="WH-SH-01") if 9.5 <= float(test[i].row[col["hour"]]) < 12]
    assert mean_of(late) > 3 * mean_of(morning)
    errors = [abs(predicted[i] - test[i].seconds_to_next / 60) for i in late]
    base_errors = [abs(baseline.predict(test[i].row) - test[i].seconds_to_next) / 60 for i in late]
    assert mean(errors) < 0.5 * mean(base_errors)
    # operator speed: the fastest picker's totes reach packing sooner than the slowest's
    assert mean_of(where("PICKED", operator="Zhao Min")) > 2 * mean_of(where("PICKED", operator="Li Lei"))
    # carriers: a parcel waits for its carrier's truck, and ZTO and YTO take days longer than SF to deliver
    assert mean_of(where("SHIPPED", carrier="YTO")) > 1.8 * mean_of(where("SHIPPED", carrier="SF"))
    # basket size: picking six units takes longer than picking one
    picks = where("SHIP_REQUESTED")
    big = [i for i in picks if float(test[i].row[col["items"]]) >= 4]
    small = [i for i in picks if float(test[i].row[col["items"]]) == 1]
    assert mean_of(big) > 1.3 * mean_of(small)
