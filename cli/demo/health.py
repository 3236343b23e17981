"""The health part of `orderhub demo`: partner systems report customer ids, a clerk takes back a few ship clicks,
then staff compute the five metrics through the API and the report prints each against its threshold."""

from __future__ import annotations

import secrets
from datetime import timedelta
from random import Random
from typing import Any

import httpx
from sqlmodel import col, select

from api.auth.tokens import issue_staff_token
from domain.access.service import create_staff, issue_partner_key
from domain.clock import day_start_of, utcnow
from domain.health.selfcheck import run_selfcheck
from domain.orders.models import Order
from runtime.notifiers import alert_robots, probe_robots
from runtime.process import Runtime
from sim.day import SimDay
from sim.health import customer_of

REPORTED = 60
WITHDRAWN = 3
COMPUTE = """mutation($input: ComputeHealthInput!) { computeHealth(input: $input) {
  alertsRaised userErrors { field message code } } }"""
HEALTH = """query($input: HealthInput) { health(input: $input) {
  metrics { metric title numerator denominator value threshold healthyBelow healthy } userErrors { code } } }"""
REPORT = (
    """mutation($input: ReportOrderCustomerInput!) { reportOrderCustomer(input: $input) { userErrors { code } } }"""
)
REQUEST = """mutation($input: RequestShipmentInput!) { requestShipment(input: $input) { userErrors { code } } }"""
LEAD = """query { fulfilmentLeadTimes { timezone days { warehouse day toOutbound { count medianHours p90Hours }
  toDelivery { count medianHours p90Hours } } userErrors { code } } }"""
WITHDRAW = """mutation($input: WithdrawShipmentRequestInput!) { withdrawShipmentRequest(input: $input) {
  userErrors { code } } }"""


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    if body.get("errors"):
        raise RuntimeError(f"demo request refused: {body['errors']}")
    return body["data"]


async def health_demo(runtime: Runtime, port: int, day: SimDay) -> None:
    settings = runtime.settings
    async with runtime.core.sessions() as session, session.begin():
        password = secrets.token_urlsafe(12)
        admin = await create_staff(session, f"health+{secrets.token_hex(3)}@demo.orderhub", password, ["admin"])
        erp = await issue_partner_key(session, "erp", ["erp:write"])
        wms = await issue_partner_key(session, "wms-customers", ["wms:write"])
        orders = (
            await session.exec(select(Order).where(col(Order.paid_at).is_not(None)).order_by(col(Order.id)))
        ).all()
        waiting = [o for o in orders if o.status == "SHIP_REQUESTED"][:WITHDRAWN]
    assert admin.id is not None
    token = issue_staff_token(settings.secret("token_secret"), admin.id, admin.email, admin.roles, 60).token
    staff = {"Authorization": f"Bearer {token}"}
    buyers = {o.channel_order_id: o.buyer_id for o in day.orders}
    rng = Random(f"demo-health:{day.seed}")
    differing = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for order in [o for o in orders if o.channel_order_id in buyers][:REPORTED]:
            sim = next(s for s in day.orders if s.channel_order_id == order.channel_order_id)
            customer = customer_of(sim)
            wms_id = customer if rng.random() > 0.05 else f"WMS-{buyers[order.channel_order_id]:06d}"
            differing += wms_id != customer
            for system, key, value in (("ERP", erp.key, customer), ("WMS", wms.key, wms_id)):
                given = {"system": system, "channel": order.channel, "channelOrderId": order.channel_order_id,
                         "customerId": value}  # fmt: skip
                await _gql(client, REPORT, {"input": given}, {"X-Api-Key": key})
        for order in waiting:  # the clerk takes the click back, then clicks again: two flips of drift each
            gid = f"gid://orderhub/Order/{order.id}"
            await _gql(client, WITHDRAW, {"input": {"orderId": gid, "reason": "wrong order clicked"}}, staff)
            await _gql(client, REQUEST, {"input": {"orderId": gid}}, staff)
        start = day_start_of(day.day, settings.merchant_zone)
        computed = (await _gql(client, COMPUTE, {"input": {"period": "DAY", "at": start.isoformat()}}, staff))[
            "computeHealth"
        ]  # stored as the day's snapshot, raising any alert once
        span = {"from": start.isoformat(), "to": (utcnow() + timedelta(minutes=1)).isoformat()}
        report = (await _gql(client, HEALTH, {"input": span}, staff))["health"]
        lead = (await _gql(client, LEAD, {}, staff))["fulfilmentLeadTimes"]
    print(f"\n== health: the five metrics from {day.day} 00:00 until now (orders, statement lines, exceptions)")
    print(f"   planted: {len(waiting)} withdrawn ship clicks, {differing} warehouse customer ids that differ, "
          "missing/wrong utm_source on some orders")  # fmt: skip
    for m in report["metrics"]:
        value = "   n/a" if m["value"] is None else f"{m['value']:.2%}"
        sign = "<" if m["healthyBelow"] else ">"
        verdict = {True: "healthy", False: "UNHEALTHY", None: "no data"}[m["healthy"]]
        print(f"   {m['title']:<30} {m['numerator']:>5}/{m['denominator']:<5} {value:>8}  "
              f"healthy {sign} {m['threshold']:.2%}  {verdict}")  # fmt: skip
    if computed["alertsRaised"]:
        print(f"   alerts raised for the day: {', '.join(computed['alertsRaised'])} (sent once to the group robots)")
    print("   exceptions younger than 72 h count only once resolved, so a fresh day shows none yet")
    _print_lead_times(lead)
    await _selfcheck(runtime)
    print(f"   console: http://127.0.0.1:{port}/console#/health")
    print(f"          (sign in as {admin.email}, password {password}: a demo account, made for this run)")


def _print_lead_times(lead: dict[str, Any]) -> None:
    """The console's lead-time table, as the API answers it: per warehouse and merchant day."""
    print(f"   fulfilment lead time per warehouse and day ({lead['timezone']}): median / p90 hours")
    for d in lead["days"]:
        legs = [d["toOutbound"], d["toDelivery"]]
        shown = [
            f"{leg['count']:>3} parcels {leg['medianHours'] or 0:5.1f} / {leg['p90Hours'] or 0:5.1f}" for leg in legs
        ]
        print(
            f"   {d['warehouse'] or '(none)':<10} {d['day']}  request->outbound {shown[0]}  "
            f"outbound->delivered {shown[1]}"
        )
    if not lead["days"]:
        print("   (no parcel finished a leg in the last seven days)")


async def _selfcheck(runtime: Runtime) -> None:
    settings = runtime.settings
    async with runtime.core.sessions() as session:
        robots = await alert_robots(runtime.core, session)
        report = await run_selfcheck(session, settings, utcnow(), lambda: probe_robots(robots, seconds=3))
    path = settings.data_dir / "selfcheck.md"
    path.write_text(report.markdown(), encoding="utf-8")
    path.with_suffix(".json").write_text(report.json(), encoding="utf-8")
    ratio = report.shipped_without_tracking
    shown = "n/a" if ratio.value is None else f"{ratio.value:.2%}"
    print(f"   self-check: shipped without tracking {ratio.without_tracking}/{ratio.shipped} = {shown} "
          f"(limit {ratio.limit:.0%}); {report.passed} of {len(report.checks)} checks pass; "
          f"first to fix: {report.failed[0].title if report.failed else 'nothing'}")  # fmt: skip
    print(f"   report written to {path} and {path.with_suffix('.json')}")
