"""The demo's upstreams section: the simulator's planted examples (a six-star mask, grouped orders with invoice
requests, a payment provider adding a field, a bank renaming a column) and what orderhub finds of each."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlmodel import col, select

from domain.channels.models import DriftAlert
from domain.channels.upstream import UpstreamKind, pin
from domain.i18n import render
from domain.identity.models import MatchSuggestion
from domain.invoices.service import group_invoice
from domain.orders.models import Order
from domain.reconcile import layouts
from runtime.process import Runtime
from sim.payment_providers import generic_notification
from sim.upstreams import ADDED_FIELD, RENAMED, generate_upstreams_day, order_input
from workers.settings import run_queued_jobs

SINGLE = """mutation($input: OrderInput!) { submitOrder(input: $input) { order { id } userErrors { field code } } }"""
PROVIDER = "lianlian"


async def _submit(client: httpx.AsyncClient, key: str, order: dict[str, Any]) -> int:
    body = (await client.post("/graphql", json={"query": SINGLE, "variables": {"input": order}},
                              headers={"X-Api-Key": key})).json()  # fmt: skip
    payload = body["data"]["submitOrder"]
    if payload["userErrors"]:
        raise RuntimeError(f"the upstreams traffic was refused: {payload['userErrors']}")
    return int(payload["order"]["id"].rsplit("/", 1)[1])


async def upstreams_demo(runtime: Runtime, port: int, key: str, seed: int, day: date) -> None:
    """Runs after the money section, which configured the generic provider's secret."""
    planted = generate_upstreams_day(seed, day)
    at = f"{day.isoformat()}T09:00:00+08:00"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        full = {"phone": planted.phone, "receiverRegion": planted.region}
        await _submit(client, key, order_input("UP-T-1", "TAOBAO", at, buyer=full, paid=True))
        masked = {"phone": planted.six_star, "receiverRegion": planted.region}
        hidden = await _submit(client, key, order_input("UP-D-1", "DOUYIN", at, buyer=masked, paid=True))
        buyer = {"phone": planted.invoice_buyer_phone}
        first = await _submit(client, key, order_input("UP-T-2", "TAOBAO", at, buyer=buyer, invoice=planted.invoice))
        await _submit(client, key, order_input("UP-D-2", "DOUYIN", at, buyer=buyer, invoice=planted.invoice))
        secret = runtime.settings.payment_webhook_secrets[PROVIDER].get_secret_value()
        for payload in planted.notifications_before:
            headers, body = generic_notification(secret, payload)
            await client.post(f"/payments/{PROVIDER}/notify", content=body, headers=headers)
        async with runtime.core.sessions() as session, session.begin():
            await pin(session, UpstreamKind.PAYMENT, PROVIDER, "ops@demo.orderhub")
        for payload in planted.notifications_after:
            headers, body = generic_notification(secret, payload)
            await client.post(f"/payments/{PROVIDER}/notify", content=body, headers=headers)
    await runtime.relay.drained()
    await run_queued_jobs(runtime)
    async with runtime.core.sessions() as session, session.begin():
        await layouts.take_statement(session, "bank-1.csv", planted.statement_before, provider="upbank",
                                     uploaded_by="demo", vault=runtime.core.vault)  # fmt: skip
        await pin(session, UpstreamKind.STATEMENT, "bank-csv:upbank", "finance@demo.orderhub")
        held = await layouts.take_statement(session, "bank-2.csv", planted.statement_after, provider="upbank",
                                            uploaded_by="demo", vault=runtime.core.vault)  # fmt: skip
    async with runtime.core.sessions() as session:
        suggested = (await session.exec(select(MatchSuggestion).where(MatchSuggestion.order_id == hidden))).all()
        lines = await group_invoice(session, runtime.core.vault, first)
        added = (await session.exec(select(DriftAlert).where(DriftAlert.upstream == "PAYMENT",
                                                             DriftAlert.path == ADDED_FIELD))).all()  # fmt: skip
        parent = (await session.exec(select(Order.parent_order_id).where(col(Order.id) == first))).one()
    print("\n== upstreams: the merchant's own examples, planted by the simulator")
    print(f"   six-star mask {planted.six_star}: {len(suggested)} match suggestion(s) with the full number's buyer "
          "(staff decide; none merged)")  # fmt: skip
    roles = ", ".join(f"{line.order.channel_order_id} {line.role.value}" for line in lines)
    group_total = next((line.amount for line in lines if line.role.value == "GROUP"), None)
    print(f"   grouped orders with invoice requests: group {parent} -> {roles}; "
          f"one invoice for {(group_total or 0) / 100:.2f} CNY")  # fmt: skip
    for alert in added:
        print(f"   payment provider {alert.channel} {alert.change} {alert.path}: {alert.count} notifications, "
              f"e.g. {alert.example}")  # fmt: skip
    if isinstance(held, layouts.Held):
        print(f"   bank renamed {RENAMED[0]} -> {RENAMED[1]}: statement held ({held.source}): {render(held.reason)}")
    else:
        print(f"   bank renamed {RENAMED[0]} -> {RENAMED[1]}: statement imported, NOT held")
