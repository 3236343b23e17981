"""Fulfilment jobs: the cron that finds orders stuck after a ship request, and the shipped notice."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from domain.clock import utcnow
from domain.fulfilment.exceptions import open_stuck_exceptions
from domain.fulfilment.tracking import open_missing_courier_records
from domain.orders.models import Order
from domain.outbox.service import Outbox
from runtime.courier_tracking import subscribe_shipped
from runtime.process import Runtime
from workers.jobs import unit_of_work

log = logging.getLogger(__name__)


async def find_stuck_shipments(ctx: dict[str, Any]) -> int:
    """Opens one STUCK_AFTER_SHIP_REQUEST case per order past the threshold; repeats open nothing new."""
    runtime: Runtime = ctx["runtime"]
    threshold = timedelta(minutes=runtime.settings.stuck_after_ship_request_minutes)
    async with unit_of_work(ctx) as session:
        return await open_stuck_exceptions(session, Outbox(), threshold, utcnow())


async def record_shipped_notice(ctx: dict[str, Any], order_id: int, version: int) -> bool:
    """Runs as the job NOTIFY_SHIPPED_JOB, enqueued only by physical outbound evidence: it checks again that
    the parcel left and logs it. It sends nothing itself: the buyer's apps are told by the offline push that
    the same change enqueued (workers/push_jobs.py), which records what JPush answered."""
    async with unit_of_work(ctx) as session:
        order = await session.get(Order, order_id)
    if order is None or order.shipped_at is None:
        return False
    log.info(
        "order %s shipped at %s (tracking %s): the buyer's apps hear of it by offline push, not from here",
        order_id,
        order.shipped_at,
        order.tracking_number,
    )
    return True


async def subscribe_tracking(ctx: dict[str, Any]) -> dict[str, int]:
    """Subscribes shipped parcels at the tracking aggregator; a parcel already accepted is not sent again."""
    runtime: Runtime = ctx["runtime"]
    return await subscribe_shipped(runtime.core)


async def find_missing_courier_records(ctx: dict[str, Any]) -> int:
    """Opens one NO_COURIER_RECORD case per order shipped past the threshold with no carrier event."""
    runtime: Runtime = ctx["runtime"]
    if runtime.settings.no_courier_record_minutes <= 0:  # a merchant with no courier feed at all turns it off
        return 0
    threshold = timedelta(minutes=runtime.settings.no_courier_record_minutes)
    async with unit_of_work(ctx) as session:
        return await open_missing_courier_records(session, Outbox(), threshold, utcnow())
