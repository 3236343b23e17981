"""Model runs in the registry table, and the stored prediction on an order.

Queries read the stored prediction only: a model is never called while answering a caller. A changed
prediction is one more entry of the order's log, so subscribers get it as they get any other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.orders.models import Order, OrderEvent
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import EventType, OrderStatus, Source
from domain.outbox.service import Outbox
from domain.prediction.models import NextStepModelRun
from domain.push.service import eta_moved, schedule_push
from domain.push.texts import PushReason
from domain.sql import dialect, take_sqlite_write_lock

PREDICT_JOB = "predict_next_step"
# The moves that enqueue a prediction (domain/fulfilment/service.py calls schedule_prediction after each).
MOVES = (
    EventType.SHIP_REQUESTED,
    EventType.ORDER_PICKED,
    EventType.ORDER_PACKED,
    EventType.ORDER_SHIPPED,
    EventType.ORDER_DELIVERED,
)
BY = Provenance(Source.SYSTEM, "system:next-step-prediction")


@dataclass(frozen=True)
class RegistryIndex:
    current: int | None
    latest: int


@dataclass(frozen=True)
class StoredPrediction:
    """What an order shows: `model_version` is null when the per-stage median served."""

    at: datetime | None
    stage: str | None
    low: datetime | None
    high: datetime | None
    model_version: int | None
    basis: str | None  # MODEL or BASELINE; null with no prediction


NO_PREDICTION = StoredPrediction(None, None, None, None, None, None)
CLEARED: dict[str, Any] = {
    "predicted_next_at": None,
    "predicted_next_stage": None,
    "predicted_low_at": None,
    "predicted_high_at": None,
    "prediction_model_version": None,
    "prediction_basis": None,
}


def schedule_prediction(outbox: Outbox, order: Order) -> dict[str, Any]:
    """After an order moved: the prediction job runs after commit, and until then the order shows none
    (the old one was about a step that has happened). Returns the column values that clear it."""
    assert order.id is not None
    outbox.enqueue(PREDICT_JOB, {"order_id": order.id, "version": order.version})
    return CLEARED


async def registry_index(session: AsyncSession) -> RegistryIndex:
    current = (
        await session.exec(select(NextStepModelRun.version).where(col(NextStepModelRun.current).is_(True)))
    ).first()
    latest = (await session.exec(select(func.max(NextStepModelRun.version)))).one()
    return RegistryIndex(current, int(latest or 0))


async def record_run(session: AsyncSession, run: dict[str, Any]) -> NextStepModelRun:
    """Appends a run; a promoted run becomes the one current model in the same transaction."""
    window = run.get("window") or [None, None]
    row = NextStepModelRun(
        version=run.get("version"),
        trained_at=_aware(run["trained_at"]),
        window_start=None if window[0] is None else _aware(window[0]),
        window_end=None if window[1] is None else _aware(window[1]),
        features=list(run.get("features", [])),
        metrics=dict(run.get("metrics", {})),
        promoted=bool(run.get("promoted")),
        current=bool(run.get("promoted")),
        reason=str(run["reason"]),
    )
    if row.current:
        await session.exec(update(NextStepModelRun).values(current=False))
    session.add(row)
    await session.flush()
    return row


async def superseded(session: AsyncSession, order_id: int, version: int) -> bool:
    """Whether a move after `version` enqueued a prediction of its own: a burst of scans then costs one
    prediction, not one per scan."""
    later = select(OrderEvent.id).where(
        OrderEvent.order_id == order_id, OrderEvent.version > version, col(OrderEvent.type).in_(MOVES)
    )
    return (await session.exec(later.limit(1))).first() is not None


async def store_prediction(
    session: AsyncSession, outbox: Outbox, order_id: int, new: StoredPrediction, push_over: timedelta | None = None
) -> bool:
    """Stores the prediction and, if it changed, logs it and pushes it; true when it changed. A predicted time
    that moved by more than `push_over` is also pushed to the buyer's app."""
    await take_sqlite_write_lock(session)  # two moves of one order may be predicted at the same moment
    order = await session.get(Order, order_id, with_for_update=dialect(session) == "postgresql")
    if order is None:
        return False
    if stored(order) == new:
        return False
    values = {
        "predicted_next_at": new.at,
        "predicted_next_stage": new.stage,
        "predicted_low_at": new.low,
        "predicted_high_at": new.high,
        "prediction_model_version": new.model_version,
        "prediction_basis": new.basis,
    }
    before = order.predicted_next_at if order.predicted_next_stage == new.stage else None
    for name, value in values.items():
        setattr(order, name, value)  # the envelope carries the new value
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
    change = Change(EventType.NEXT_STEP_PREDICTED, OrderStatus(order.status), utcnow(), data)
    await append_event(session, outbox, order, change, BY)
    await save_order(session, order, values)
    if push_over is not None and order.buyer_uid is not None and eta_moved(before, new.at, push_over):
        assert order.id is not None
        schedule_push(outbox, order.id, order.version, PushReason.ETA_MOVED)
    await outbox.flush(session)
    return True


def stored(order: Order) -> StoredPrediction:
    return StoredPrediction(
        order.predicted_next_at,
        order.predicted_next_stage,
        order.predicted_low_at,
        order.predicted_high_at,
        order.prediction_model_version,
        order.prediction_basis,
    )


def _aware(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
