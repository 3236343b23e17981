"""The next-step part of `orderhub demo`: train on weeks of simulated floor history, show the evaluation
table, let the worker predict the orders the fulfilment step moved, and read one order's forecast back as
its customer and as staff would."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from api.auth.tokens import issue_customer_token, issue_staff_token
from domain.access.service import create_staff
from domain.clock import local_day, utcnow
from domain.orders.models import Order
from domain.prediction.service import record_run, registry_index
from ml.registry import train
from runtime.process import Runtime
from sim.history import simulate_history
from workers.ml_jobs import models_dir
from workers.settings import run_queued_jobs

HISTORY_DAYS = 21
ORDERS_PER_DAY = 60
CUSTOMER = "query($id: ID!) { order(id: $id) { status predictedNextStage predictedNextAt } }"
STAFF = """query($id: ID!) { order(id: $id) { predictedNextInterval { low high } predictionModelVersion
  predictionBasis } }"""


async def prediction_demo(runtime: Runtime, port: int, seed: int) -> None:
    settings = runtime.settings
    start = local_day(utcnow(), settings.merchant_zone) - timedelta(days=HISTORY_DAYS + 2)
    events = simulate_history(seed, start, HISTORY_DAYS, ORDERS_PER_DAY, settings.merchant_timezone)
    async with runtime.core.sessions() as session:
        index = await registry_index(session)
    decision = await asyncio.to_thread(
        train, events, models_dir(runtime), "minutes", None, index=index, tz=settings.merchant_timezone
    )
    assert decision.run is not None and decision.report is not None
    async with runtime.core.sessions() as session, session.begin():
        await record_run(session, decision.run)
    orders = len({e.case for e in events})
    print(f"\n== next step: trained on {HISTORY_DAYS} simulated days ({orders} orders, {len(events)} steps),")
    print("   tested on the later third, against the median per (stage, warehouse)")
    for line in decision.report.table().splitlines():
        print(f"   {line}")
    print(f"   model v{decision.version}: {decision.reason}")
    await runtime.relay.drained()
    await run_queued_jobs(runtime)  # the jobs the fulfilment moves enqueued
    await _show_one(runtime, port)


async def _show_one(runtime: Runtime, port: int) -> None:
    async with runtime.core.sessions() as session:
        query = (
            select(Order)
            .where(col(Order.predicted_next_at).is_not(None), col(Order.buyer_uid).is_not(None))
            .order_by(col(Order.predicted_next_at).desc())
            .limit(1)
        )
        order = (await session.exec(query)).first()
        predicted = len((await session.exec(select(Order.id).where(col(Order.predicted_next_at).is_not(None)))).all())
        email = f"cs+{secrets.token_hex(3)}@demo.orderhub"
        staff = await create_staff(session, email, secrets.token_urlsafe(12), ["cs"])
        await session.commit()
    print(f"   predictions stored by the worker after the fulfilment moves: {predicted} orders")
    if order is None or order.buyer_uid is None or staff.id is None:
        print("   no order awaiting a next step")
        return
    secret = runtime.settings.secret("token_secret")
    customer = {"Authorization": "Bearer " + issue_customer_token(secret, order.buyer_uid, 10).token}
    cs = {"Authorization": "Bearer " + issue_staff_token(secret, staff.id, staff.email, staff.roles, 10).token}
    gid = f"gid://orderhub/Order/{order.id}"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        mine = await _gql(client, CUSTOMER, gid, customer)
        inside = await _gql(client, STAFF, gid, cs)
    interval = inside["predictedNextInterval"] or {}
    print(f"   order {order.channel} {order.channel_order_id}, as its customer's app reads it:")
    print(f"     status {mine['status']}, next {mine['predictedNextStage']} at {mine['predictedNextAt']}")
    print(f"   as customer service reads it: 90% between {interval.get('low')} and {interval.get('high')},")
    print(f"     {inside['predictionBasis']} (model version {inside['predictionModelVersion']})")


async def _gql(client: httpx.AsyncClient, query: str, gid: str, headers: dict[str, str]) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": {"id": gid}}, headers=headers)
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"the demo's own query was refused: {body['errors']}")
    return body["data"]["order"]
