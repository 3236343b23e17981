"""The orders' event log feeds the next-step model: stages in order, warehouse known only from the past."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from domain.orders.models import Order, OrderEvent
from domain.prediction.models import NextStepModelRun
from ml.evaluate import evaluate
from ml.orders import order_event_log
from runtime.process import Runtime
from workers.ml_jobs import models_dir, train_next_step, train_nightly

ROOT = Path(__file__).parents[2]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _order(n: int) -> Order:
    return Order(
        channel="TAOBAO",
        channel_order_id=f"ml-{n}",
        status="PACKED",
        currency="CNY",
        items_amount=1000,
        shipping_amount=0,
        discount_amount=0,
        total_amount=1000,
        placed_at=T0,
        created_at=T0,
        updated_at=T0,
    )


def _event(order_id: int, version: int, status: str, at: datetime, **data: str) -> OrderEvent:
    return OrderEvent(
        order_id=order_id,
        version=version,
        type=f"ORDER_{status}",
        status=status,
        source="test",
        actor="test",
        occurred_at=at,
        recorded_at=at,
        data=dict(data),
    )


async def _seed(rt: Runtime, orders: int) -> list[int]:
    ids: list[int] = []
    async with rt.core.sessions() as session:
        rows = [_order(n) for n in range(orders)]
        session.add_all(rows)
        await session.flush()
        for n, row in enumerate(rows):
            assert row.id is not None
            ids.append(row.id)
            at = T0 + timedelta(minutes=37 * n)
            warehouse = "SH" if n % 2 else "GZ"
            pick_wait = timedelta(minutes=15 if n % 2 else 90)
            session.add_all(
                [
                    _event(row.id, 1, "PAID", at),
                    _event(row.id, 2, "PAID", at + timedelta(minutes=1), note="buyer asked for gift wrap"),
                    _event(row.id, 3, "SHIP_REQUESTED", at + timedelta(minutes=5)),
                    _event(row.id, 4, "PICKED", at + timedelta(minutes=5) + pick_wait, warehouse_code=warehouse),
                    _event(row.id, 5, "PACKED", at + timedelta(minutes=20) + pick_wait, warehouse_code=warehouse),
                ]
            )
        await session.commit()
    return ids


async def test_order_events_become_stage_steps_with_the_warehouse_known_so_far(rt: Runtime) -> None:
    ids = await _seed(rt, 2)
    events = await order_event_log(rt.core.sessions)
    first = [e for e in events if e.case == str(ids[0])]
    assert [e.activity for e in first] == ["PAID", "SHIP_REQUESTED", "PICKED", "PACKED"]
    assert [e.group for e in first] == ["", "", "GZ", "GZ"]  # the warehouse is not known before the pick scan
    assert first[0].at == T0.replace(tzinfo=None)
    assert first[2].at - first[1].at == timedelta(minutes=90)
    later = await order_event_log(rt.core.sessions, since=T0 + timedelta(minutes=30))
    assert {e.case for e in later} == {str(ids[1])}


async def test_the_model_learns_the_orders_own_history(rt: Runtime) -> None:
    await _seed(rt, 90)
    report = evaluate(await order_event_log(rt.core.sessions), unit="minutes")
    assert report.overall.prefixes == 30 * 3
    assert report.by_activity["PICKED"].mae_baseline == 0  # packing always takes 15 minutes
    assert report.by_activity["PICKED"].mae_model < 5
    # before the pick scan nobody knows the warehouse, so the wait (15 or 90 minutes) cannot be told apart
    assert report.by_activity["SHIP_REQUESTED"].mae_baseline == 37.5


async def test_cli_trains_on_the_database_history(rt: Runtime, tmp_path: Path) -> None:
    await _seed(rt, 90)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= {"ORDERHUB_DATA_DIR": str(tmp_path / "data"), "ORDERHUB_DATABASE_URL": rt.settings.resolved_database_url()}
    models = tmp_path / "models"
    args = ["ml", "train", "--from-db", "--unit", "minutes", "--models-dir", str(models)]
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "time to next event, minutes" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("model v1: ")
    assert not (models / "registry.json").exists()  # orderhub's own runs are recorded in its database
    async with rt.core.sessions() as session:
        [run] = (await session.exec(select(NextStepModelRun))).all()
    assert run.version == 1 and run.metrics["prefixes"] == 90 and run.window_start == T0


async def test_nightly_job_trains_on_the_window_and_records_the_run(rt: Runtime) -> None:
    await _seed(rt, 90)
    models = models_dir(rt)
    shutil.rmtree(models, ignore_errors=True)
    too_late = await train_next_step({"runtime": rt}, window_days=1, now=T0 + timedelta(days=30))
    assert "too little history: 0 cases" in too_late
    reason = await train_next_step({"runtime": rt}, window_days=30, now=T0 + timedelta(days=7))
    assert reason.startswith(("promoted", "kept")) and "MAE" in reason
    async with rt.core.sessions() as session:
        runs = (await session.exec(select(NextStepModelRun).order_by(col(NextStepModelRun.id)))).all()
    assert [r.version for r in runs] == [None, 1]
    assert runs[1].metrics["prefixes"] == 90 and runs[1].trained_at == T0 + timedelta(days=7)
    assert runs[1].current == runs[1].promoted and runs[1].features[:3] == ["activity", "previous_activity", "group"]


async def test_the_nightly_cron_trains_once_at_0240_on_the_merchants_clock(rt: Runtime) -> None:
    await _seed(rt, 90)
    shutil.rmtree(models_dir(rt), ignore_errors=True)
    ctx = {"runtime": rt}
    for hour in (2, 10, 17, 19):  # 10:40, 18:40, 01:40, 03:40 in Shanghai: woken, not due
        assert await train_nightly(ctx, now=datetime(2026, 11, 9, hour, 40, tzinfo=UTC)) is None
    async with rt.core.sessions() as session:
        assert (await session.exec(select(NextStepModelRun))).all() == []
    reason = await train_nightly(ctx, now=datetime(2026, 11, 9, 18, 40, tzinfo=UTC))  # 02:40 on the 10th there
    assert reason is not None and reason.startswith(("promoted", "kept"))
    async with rt.core.sessions() as session:
        [run] = (await session.exec(select(NextStepModelRun))).all()
    assert run.trained_at == datetime(2026, 11, 9, 18, 40, tzinfo=UTC)
