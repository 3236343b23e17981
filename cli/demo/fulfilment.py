"""The fulfilment part of `orderhub demo`: a simulated floor and carriers report on a sample of the
day's paid orders through the real API, then the report compares click-driven status with orderhub's."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import col, select

from api.auth.tokens import issue_staff_token
from cli.demo.confirmations import confirm_and_report, fake_douyin
from domain.access.service import create_staff, issue_partner_key
from domain.clock import utcnow
from domain.fulfilment.exceptions import WAITING_FOR_OUTBOUND, open_stuck_exceptions, summary_of
from domain.fulfilment.journey import backtrack
from domain.fulfilment.kuaidi100 import push_sign
from domain.fulfilment.models import OrderException
from domain.fulfilment.tracking import open_missing_courier_records
from domain.orders import queries
from domain.orders.models import Order
from domain.outbox.service import Outbox
from runtime.process import Runtime
from sim.day import SimDay
from sim.fulfilment import FulfilmentEvent, SimFulfilment, generate_fulfilment

SAMPLE = 200
COURIER_WAIT = timedelta(minutes=30)  # the demo's day is short: ORDERHUB_NO_COURIER_RECORD_MINUTES is a day
CONCURRENCY = 4
_SENT = {
    "request": ("requestShipment", "RequestShipmentInput"),
    "warehouse": ("recordWarehouseEvent", "WarehouseEventInput"),
    "carrier": ("recordCarrierEvent", "CarrierEventInput"),
}
_SHIPPED = ("SHIPPED", "DELIVERED", "COMPLETED")
_TRUTH = {
    "STUCK_AFTER_SHIP_REQUEST": "stuck_after_click",
    "SCAN_BEFORE_REQUEST": "fault:pre_scan",
    "DUPLICATE_SCAN": "fault:duplicate_scan",
    "SUSPICIOUS_OUTBOUND": "fault:too_soon",
    "SHIPPED_WITHOUT_TRACKING": "fault:no_tracking",
}


async def fulfilment_demo(runtime: Runtime, port: int, day: SimDay) -> None:
    settings = runtime.settings
    async with runtime.core.sessions() as session, session.begin():
        ops = await create_staff(
            session, f"ops+{secrets.token_hex(3)}@demo.orderhub", secrets.token_urlsafe(12), ["ops"]
        )
        wms = await issue_partner_key(session, "wms-floor", ["wms:write"])
        carrier = await issue_partner_key(session, "carrier-sf", ["carrier:write"])
    assert ops.id is not None
    token = issue_staff_token(settings.secret("token_secret"), ops.id, ops.email, ops.roles, 60).token
    headers = {
        "request": {"Authorization": f"Bearer {token}"},
        "warehouse": {"X-Api-Key": wms.key},
        "carrier": {"X-Api-Key": carrier.key},
    }
    threshold = timedelta(minutes=settings.stuck_after_ship_request_minutes)
    sim = generate_fulfilment(day, utcnow(), limit=SAMPLE, stuck_after=threshold)
    ids = await _order_ids(runtime, sim)
    started = time.perf_counter()
    async with fake_douyin(runtime) as platform:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await _push(client, sim, ids, headers)
        seconds = time.perf_counter() - started
        await runtime.relay.drained()
        async with runtime.core.sessions() as session, session.begin():
            await open_stuck_exceptions(session, Outbox(), threshold, sim.cutoff)  # what the cron finds at the cutoff
            silent = await open_missing_courier_records(session, Outbox(), COURIER_WAIT, sim.cutoff)
        runtime.relay.notify()
        await _report(runtime, sim, list(ids.values()), seconds)
        wait = int(COURIER_WAIT.total_seconds() // 60)
        print(f"   parcels out {wait} min at the cut-off, no courier record yet: {silent} (NO_COURIER_RECORD opened)")
        await _courier_gave_up(runtime, port, list(ids.values()))
        await confirm_and_report(runtime, platform)


async def _courier_gave_up(runtime: Runtime, port: int, order_ids: list[int]) -> None:
    """Kuaidi100's signed push for a number it stopped tracking because no courier ever scanned it."""
    async with runtime.core.sessions() as session:
        order = (
            await session.exec(
                select(Order).where(col(Order.id).in_(order_ids), Order.status == "SHIPPED",
                                    col(Order.tracking_number).is_not(None)).limit(1)
            )
        ).first()  # fmt: skip
    if order is None or order.tracking_number is None:
        return
    salt = secrets.token_hex(8)
    runtime.core.settings = runtime.settings.model_copy(update={"kuaidi100_salt": SecretStr(salt)})
    param = json.dumps({"status": "abort", "message": "3天查询无记录", "lastResult": {
        "message": "ok", "state": "0", "status": "200", "com": "shunfeng", "nu": order.tracking_number, "data": []}},
        ensure_ascii=False)  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        response = await client.post("/couriers/kuaidi100", data={"param": param, "sign": push_sign(param, salt)})
    async with runtime.core.sessions() as session:
        opened = (
            await session.exec(select(OrderException).where(OrderException.order_id == order.id,
                                                            OrderException.kind == "NO_COURIER_RECORD"))
        ).first()  # fmt: skip
    print(f"   Kuaidi100 gave up on {order.tracking_number} (answered {response.json()['result']}): "
          f"{summary_of(opened) if opened else 'no case opened'}")  # fmt: skip


async def _order_ids(runtime: Runtime, sim: SimFulfilment) -> dict[str, int]:
    async with runtime.core.sessions() as session:
        rows = await session.exec(
            select(Order.channel_order_id, Order.id).where(col(Order.channel_order_id).in_(sim.fates))
        )
        return {code: int(key) for code, key in rows.all() if key is not None}


async def _push(
    client: httpx.AsyncClient, sim: SimFulfilment, ids: dict[str, int], headers: dict[str, dict[str, str]]
) -> None:
    queue: asyncio.Queue[list[FulfilmentEvent]] = asyncio.Queue()
    for events in sim.by_order():
        queue.put_nowait(events)

    async def worker() -> None:
        while not queue.empty():
            for event in queue.get_nowait():
                name, input_type = _SENT[event.kind]
                body: dict[str, Any] = event.body
                if event.kind == "request":
                    body = {**body, "orderId": f"gid://orderhub/Order/{ids[event.order.channel_order_id]}"}
                query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ field code }} }} }}"
                response = await client.post(
                    "/graphql", json={"query": query, "variables": {"input": body}}, headers=headers[event.kind]
                )
                errors = response.json()["data"][name]["userErrors"]
                if errors:
                    raise RuntimeError(f"the simulated floor was refused: {errors}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _report(runtime: Runtime, sim: SimFulfilment, order_ids: list[int], seconds: float) -> None:
    async with runtime.core.sessions() as session:
        statuses = Counter(
            dict(
                (
                    await session.exec(
                        select(Order.status, func.count()).where(col(Order.id).in_(order_ids)).group_by(Order.status)
                    )
                ).all()
            )
        )
        kinds = dict(
            (await session.exec(select(OrderException.kind, func.count()).group_by(OrderException.kind))).all()
        )
        waiting = (
            await session.exec(
                select(Order)
                .where(col(Order.id).in_(order_ids), col(Order.status).in_([s.value for s in WAITING_FOR_OUTBOUND]))
                .order_by(col(Order.stage_entered_at))
                .limit(3)
            )
        ).all()
        events = await queries.events_of(session, [o.id for o in waiting if o.id is not None])
    truth = sim.truth
    shipped = sum(statuses[s] for s in _SHIPPED)
    delivered = statuses["DELIVERED"] + statuses["COMPLETED"]
    sent = f"{len(sim.events)} staff/warehouse/carrier events in {seconds:.1f} s"
    print(f"\n== fulfilment: {truth['orders']} paid orders, {sent}")
    print(f"   shown as shipped under click-driven status  {truth.get('clicked', 0):>5}")
    print(f"   shipped under orderhub (physical evidence)  {shipped:>5} / {truth.get('physically_shipped', 0)}")
    print(f"   delivered (signed for)                      {delivered:>5} / {truth.get('delivered', 0)}")
    print("   exceptions opened by kind (orderhub / simulator)")
    for kind, key in _TRUTH.items():
        print(f"     {kind:<28} {kinds.get(kind, 0):>5} / {truth.get(key, 0)}")
    print("   worst backtracks")
    now = sim.cutoff
    for order in waiting:
        assert order.id is not None
        summary = backtrack(order, events[order.id], now).blocking
        if summary is not None:
            print(f"     {order.channel} {order.channel_order_id}: {summary.summary}")
