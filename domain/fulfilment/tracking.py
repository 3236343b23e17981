"""Courier tracking: which parcels to subscribe at the aggregator, and the parcels no courier knows of.

"Shipped, but the courier has no record" is the first symptom of a fake outbound: the warehouse confirmed a
parcel that never reached a courier. A parcel out this long with no carrier event for its tracking number, or
whose number the aggregator gave up on, opens one NO_COURIER_RECORD case for a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import CourierSubscription, ExceptionKind, FulfilmentEvidence, Parcel
from domain.i18n import Message, msg
from domain.orders.models import Order
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import EventType, OrderStatus, Source
from domain.outbox.service import Outbox
from domain.sql import insert_ignore

AWAITING_COURIER = (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)
"""Statuses in which parcels are out and couriers should be reporting them."""


async def open_no_courier_record(
    session: AsyncSession, outbox: Outbox, order: Order, tracking: str | None, summary: Message, now: datetime,
    details: dict[str, Any],
) -> int | None:  # fmt: skip
    """One open case per parcel (a repeat opens nothing), noted on the order's log."""
    assert order.id is not None
    opened = await open_exception(
        session, outbox, ExceptionKind.NO_COURIER_RECORD, summary, order_id=order.id, details=details,
        dedup_key=f"no-courier:{order.id}:{tracking or ''}"[:200],
    )  # fmt: skip
    if opened is not None:
        data = {"exception_id": opened, "kind": ExceptionKind.NO_COURIER_RECORD.value, "tracking_number": tracking}
        change = Change(EventType.EXCEPTION_OPENED, OrderStatus(order.status), now, data)
        await append_event(session, outbox, order, change, Provenance(Source.SYSTEM, "system:courier-tracking"))
        await save_order(session, order, {})
    return opened


async def open_missing_courier_records(
    session: AsyncSession, outbox: Outbox, threshold: timedelta, now: datetime
) -> int:
    """Parcels out longer than the threshold whose tracking number no carrier event names (a parcel without a
    number has its SHIPPED_WITHOUT_TRACKING case already)."""
    carrier_seen = exists().where(
        col(FulfilmentEvidence.order_id) == Parcel.order_id,
        col(FulfilmentEvidence.tracking_number) == Parcel.tracking_number,
        col(FulfilmentEvidence.source) == Source.CARRIER.value,
    )
    query = (
        select(Order, Parcel)
        .join(Parcel, col(Parcel.order_id) == Order.id)
        .where(
            col(Order.status).in_([s.value for s in AWAITING_COURIER]),
            col(Parcel.tracking_number).is_not(None),
            col(Parcel.shipped_at) < now - threshold,
            ~carrier_seen,
        )
        .order_by(col(Parcel.id))
    )
    opened = 0
    for order, parcel in (await session.exec(query)).all():
        assert parcel.shipped_at is not None
        hours = int((now - parcel.shipped_at).total_seconds() // 3600)
        summary = msg(
            "parcel {tracking} left {hours} h ago and no courier has a record of it",
            tracking=parcel.tracking_number,
            hours=hours,
        )
        details = {"tracking_number": parcel.tracking_number, "carrier_code": parcel.carrier_code,
                   "warehouse_code": parcel.warehouse_code, "shipped_at": parcel.shipped_at.isoformat()}  # fmt: skip
        if await open_no_courier_record(session, outbox, order, parcel.tracking_number, summary, now, details):
            opened += 1
    await outbox.flush(session)
    return opened


async def to_subscribe(session: AsyncSession, attempts: int, limit: int = 200) -> list[tuple[int, str, str | None]]:
    """(order id, tracking number, carrier code) of parcels out and not yet accepted by the aggregator."""
    accepted = exists().where(
        col(CourierSubscription.tracking_number) == Parcel.tracking_number,
        col(CourierSubscription.order_id) == Parcel.order_id,
        (col(CourierSubscription.accepted)) | (col(CourierSubscription.attempts) >= attempts),
    )
    query = (
        select(Parcel.order_id, Parcel.tracking_number, Parcel.carrier_code)
        .join(Order, col(Order.id) == Parcel.order_id)
        .where(
            col(Order.status).in_([s.value for s in AWAITING_COURIER]),
            col(Parcel.tracking_number).is_not(None),
            ~accepted,
        )
        .order_by(col(Parcel.id))
        .limit(limit)
    )
    return [(int(oid), str(number), carrier) for oid, number, carrier in (await session.exec(query)).all()]


async def record_subscription(
    session: AsyncSession, order_id: int, company: str, number: str, accepted: bool, detail: str, now: datetime
) -> None:
    values = {"company": company, "tracking_number": number, "order_id": order_id, "accepted": accepted,
              "detail": detail[:2000], "attempts": 1, "updated_at": now}  # fmt: skip
    if await insert_ignore(session, CourierSubscription, values, ("company", "tracking_number")) is None:
        await session.exec(
            update(CourierSubscription)
            .where(col(CourierSubscription.company) == company, col(CourierSubscription.tracking_number) == number)
            .values(accepted=accepted, detail=detail[:2000], attempts=CourierSubscription.attempts + 1, updated_at=now)
        )
