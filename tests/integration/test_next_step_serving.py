"""The prediction after each fulfilment move: enqueued after commit, stored on the order, read by GraphQL
(customers: time and stage; staff: also the interval and the model), pushed when it changes, and an answer
(the baseline or null, never an error) for every odd order."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.worker import Worker
from sqlmodel import col, select

from domain.clock import utcnow
from domain.orders.models import Order, OrderEvent
from runtime.process import Runtime
from runtime.queues import QUEUES
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, outbox_rows, paid_order, request_ship, scan
from tests.integration.test_ml_orders import _event, _order
from workers.ml_jobs import models_dir, predict_next_step, train_next_step
from workers.settings import run_queued_jobs

FAST, SLOW = "Li Lei (E1024)", "Han Meimei (E2048)"
LATEST = 10**6  # a job's version when no later move happened
PREDICTION = """query($id: ID!) { order(id: $id) { status predictedNextAt predictedNextStage
  predictedNextInterval { low high } predictionModelVersion predictionBasis } }"""
CUSTOMER_VIEW = """query($id: ID!) { order(id: $id) { predictedNextAt predictedNextStage } }"""


async def _history(rt: Runtime, orders: int = 120, first: int = 0) -> None:
    """Packing waits 10 minutes after a fast picker and 70 after a slow one: the per-stage median cannot
    tell them apart, a model reading the operator can."""
    t0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    async with rt.core.sessions() as session:
        rows = [_order(n) for n in range(first, first + orders)]
        session.add_all(rows)
        await session.flush()
        for n, row in enumerate(rows):
            assert row.id is not None
            at = t0 + timedelta(minutes=41 * n)
            operator = FAST if n % 2 else SLOW
            picked = at + timedelta(minutes=35)
            place = {"warehouse_code": "WH-SH-01", "operator": operator, "station": "pick face A-01"}
            session.add_all(
                [
                    _event(row.id, 1, "PAID", at),
                    _event(row.id, 2, "SHIP_REQUESTED", at + timedelta(minutes=5)),
                    _event(row.id, 3, "PICKED", picked, **place),
                    _event(row.id, 4, "PACKED", picked + timedelta(minutes=10 if n % 2 else 70), **place),
                ]
            )
        await session.commit()


async def _run_worker(rt: Runtime) -> list[Worker]:
    await rt.relay.drained()
    workers = await run_queued_jobs(rt)
    assert [worker.jobs_failed for worker in workers] == [0] * len(QUEUES)
    return workers


def _key(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


async def test_each_move_is_predicted_after_commit_and_staff_see_the_interval(api: Api, creds: Credentials) -> None:
    rt = api.runtime
    shutil.rmtree(models_dir(rt), ignore_errors=True)
    await _history(rt)
    reason = await train_next_step({"runtime": rt}, window_days=60)
    assert reason.startswith("promoted"), reason
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=1))
    picked = await api.gql(
        WAREHOUSE, {"input": scan("PICKED", now - timedelta(minutes=50), "S-1", station="pick face A-01")},
        headers=creds.wms_only,
    )  # fmt: skip
    assert picked["data"]["recordWarehouseEvent"]["order"]["predictedNextAt"] is None  # stale one cleared
    assert [r.payload["order_id"] for r in await outbox_rows(api, "predict_next_step")] == [_key(order["id"])] * 2
    predict_worker = (await _run_worker(rt))[1]
    assert predict_worker.ctx["next_step"].state is not None  # loaded once for the worker, not once per job

    staff = (await api.gql(PREDICTION, {"id": order["id"]}, headers=creds.admin))["data"]["order"]
    assert staff["status"] == "PICKED" and staff["predictedNextStage"] == "PACKED"
    assert staff["predictionBasis"] == "MODEL" and staff["predictionModelVersion"] == 1
    at = datetime.fromisoformat(staff["predictedNextAt"])
    picked_at = now - timedelta(minutes=50)
    assert timedelta(minutes=3) < at - picked_at < timedelta(minutes=30), staff  # a fast picker
    interval = staff["predictedNextInterval"]
    assert datetime.fromisoformat(interval["low"]) <= at <= datetime.fromisoformat(interval["high"])

    uid = (await api.gql("query($id: ID!) { order(id: $id) { buyerUid } }", {"id": order["id"]},
                         headers=creds.admin))["data"]["order"]["buyerUid"]  # fmt: skip
    customer = creds.customer(rt, uid)
    mine = await api.gql(CUSTOMER_VIEW, {"id": order["id"]}, headers=customer)
    assert mine["data"]["order"] == {"predictedNextAt": staff["predictedNextAt"], "predictedNextStage": "PACKED"}
    denied = await api.gql(PREDICTION, {"id": order["id"]}, headers=customer)
    assert {e["extensions"]["code"] for e in denied["errors"]} == {"FORBIDDEN"}

    pushed = [r.payload for r in await outbox_rows(api, "orders") if r.payload["event_type"] == "NEXT_STEP_PREDICTED"]
    assert pushed[-1]["predicted_next_at"] == at.isoformat() and pushed[-1]["status"] == "PICKED"
    assert len(pushed) == 1  # the request's job ran after the pick: superseded by the pick's
    assert (await predict_next_step({"runtime": rt}, _key(order["id"]), LATEST)).endswith("(unchanged)")
    assert await predict_next_step({"runtime": rt}, _key(order["id"]), 3) == "superseded by a later move"
    assert len([r for r in await outbox_rows(api, "orders") if r.payload["event_type"] == "NEXT_STEP_PREDICTED"]) == 1


async def test_odd_orders_get_the_baseline_or_null_never_an_error(
    api: Api, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    rt = api.runtime
    shutil.rmtree(models_dir(rt), ignore_errors=True)
    order = await paid_order(api, creds)
    order_id = _key(order["id"])
    ctx: dict[str, Any] = {"runtime": rt}
    assert await predict_next_step(ctx, order_id, LATEST) == "none (unchanged)"  # no model, no history at all
    assert await predict_next_step({"runtime": rt}, 10_000_000, LATEST) == "none (unchanged)"  # no such order

    await _history(rt, 20)  # too little history for a model: the per-stage median serves
    assert "too little history" in await train_next_step({"runtime": rt}, window_days=60)
    result = await predict_next_step({"runtime": rt}, order_id, LATEST)
    assert result.startswith("baseline"), result
    stored = await _stored(rt, order_id)
    assert stored.prediction_basis == "BASELINE" and stored.prediction_model_version is None
    assert stored.predicted_next_stage == "SHIP_REQUESTED"

    await _history(rt, 120, first=20)
    assert (await train_next_step({"runtime": rt}, window_days=60)).startswith("promoted")
    (models_dir(rt) / "model-v1.pkl").write_bytes(b"not a model")  # a damaged file: the baseline serves
    with caplog.at_level("WARNING"):
        assert (await predict_next_step({"runtime": rt}, order_id, LATEST)).startswith("baseline")
    assert any("model v1" in r.getMessage() and "unusable" in r.getMessage() for r in caplog.records)

    assert (await train_next_step({"runtime": rt}, window_days=60)).startswith("promoted")  # v2 replaces it
    new_place = await _order_with_steps(rt, "WH-NEW-09", "Nobody (E0000)")
    assert (await predict_next_step({"runtime": rt}, new_place, LATEST)).startswith("baseline")  # unseen warehouse
    new_operator = await _order_with_steps(rt, "WH-SH-01", "Nobody (E0000)")
    assert (await predict_next_step({"runtime": rt}, new_operator, LATEST)).startswith("model")  # operator: missing

    no_events = await _order_with_steps(rt, None, None)
    assert await predict_next_step({"runtime": rt}, no_events, LATEST) == "none (unchanged)"
    done = await _order_with_steps(rt, "WH-SH-01", FAST, final=True)
    assert await predict_next_step({"runtime": rt}, done, LATEST) == "none (unchanged)"
    shuffled = await _order_with_steps(rt, "WH-SH-01", FAST, shuffled=True)
    assert (await predict_next_step({"runtime": rt}, shuffled, LATEST)).startswith("model")


async def _stored(rt: Runtime, order_id: int) -> Order:
    async with rt.core.sessions() as session:
        row = await session.get(Order, order_id)
    assert row is not None
    return row


async def _order_with_steps(
    rt: Runtime, warehouse: str | None, operator: str | None, *, final: bool = False, shuffled: bool = False
) -> int:
    """An order written straight to the log: `warehouse` None gives one with no events at all."""
    at = utcnow() - timedelta(hours=2)
    async with rt.core.sessions() as session:
        count = len((await session.exec(select(Order.id))).all())
        row = _order(10_000 + count)
        session.add(row)
        await session.flush()
        assert row.id is not None
        if warehouse is not None:
            place = {"warehouse_code": warehouse, "operator": operator or ""}
            events = [
                _event(row.id, 1, "PAID", at),
                _event(row.id, 2, "SHIP_REQUESTED", at + timedelta(minutes=5)),
                _event(row.id, 3, "PICKED", at + timedelta(minutes=40), **place),
            ]
            if shuffled:  # the warehouse's clock put the pick before the request
                events[2].occurred_at = at + timedelta(minutes=1)
            if final:
                events.append(_event(row.id, 4, "DELIVERED", at + timedelta(minutes=90), **place))
            session.add_all(events)
            row.version = len(events)
        await session.commit()
    assert row.id is not None
    return row.id


async def test_a_model_run_row_is_written_for_every_training(rt: Runtime) -> None:
    shutil.rmtree(models_dir(rt), ignore_errors=True)
    await _history(rt, 120)
    await train_next_step({"runtime": rt}, window_days=60)
    await train_next_step({"runtime": rt}, window_days=60)
    from domain.prediction.models import NextStepModelRun

    async with rt.core.sessions() as session:
        runs = (await session.exec(select(NextStepModelRun).order_by(col(NextStepModelRun.id)))).all()
        count = len((await session.exec(select(OrderEvent.id))).all())
    assert [(r.version, r.promoted, r.current) for r in runs] == [(1, True, True), (2, False, False)]
    assert "current v1" in runs[1].reason and runs[0].metrics["coverage90"] > 0 and count == 480


async def test_a_changed_prediction_is_pushed_to_the_customer_subscribed(api: Api, creds: Credentials) -> None:
    from api.app import create_app
    from domain.outbox.service import Outbox
    from domain.prediction.service import StoredPrediction, store_prediction
    from tests.integration.push_client import GraphQLWs, serving

    rt = api.runtime
    order = await paid_order(api, creds)
    uid = (await api.gql("query($id: ID!) { order(id: $id) { buyerUid } }", {"id": order["id"]},
                         headers=creds.admin))["data"]["order"]["buyerUid"]  # fmt: skip
    subscription = """subscription { orderUpdates { version status snapshot
      order { id predictedNextAt predictedNextStage } } }"""
    at = utcnow().replace(microsecond=0) + timedelta(hours=3)
    prediction = StoredPrediction(at, "SHIP_REQUESTED", at - timedelta(hours=1), at + timedelta(hours=2), 4, "MODEL")
    async with serving(create_app(runtime=rt)) as url, GraphQLWs.open(url, creds.customer(rt, uid)) as ws:
        op = await ws.subscribe(subscription)
        snapshot = (await ws.next(op))["data"]["orderUpdates"]
        assert snapshot["snapshot"] and snapshot["order"]["predictedNextAt"] is None
        for _ in range(2):  # the second store changes nothing and pushes nothing
            async with rt.core.sessions() as session, session.begin():
                await store_prediction(session, Outbox(), _key(order["id"]), prediction)
            await rt.relay.drained()
        pushed = (await ws.next(op))["data"]["orderUpdates"]
        assert pushed["version"] == snapshot["version"] + 1 and pushed["status"] == "PAID"
        assert datetime.fromisoformat(pushed["order"]["predictedNextAt"]) == at
        assert pushed["order"]["predictedNextStage"] == "SHIP_REQUESTED"
        with pytest.raises(TimeoutError):
            await ws.next(op, wait_s=0.5)
