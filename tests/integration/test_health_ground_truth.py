"""Ground truth: a seeded day with every health fault planted; each metric's numerator and denominator must equal
the simulator's own counts exactly, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from domain.clock import utcnow
from domain.errors import Problems
from domain.fulfilment import evidence as ev
from domain.fulfilment.exceptions import resolve_exception
from domain.fulfilment.models import OrderException
from domain.fulfilment.service import FulfilmentService
from domain.health.customer_refs import CustomerReport, record_customer_ref
from domain.health.metrics import STATUS_DRIFT_FROM_EVENTS, measure
from domain.health.models import ExternalSystem
from domain.health.thresholds import Metric
from domain.health.windows import Window
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.orders.commands import AttributionSubmission, LineSubmission, OrderSubmission, validate_submission
from domain.orders.models import Order
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from domain.reconcile.service import import_statement, parse_statement, reconcile
from runtime.process import Runtime
from sim.day import SimOrder, generate_day
from sim.health import PROVIDER, SimHealth, expected, generate_health
from sim.money import decimal_text
from sim.statements import bank_csv

DAY = date(2026, 11, 24)
SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF = Provenance(Source.STAFF, "staff:sim-ops@shop.example")
WMS = Provenance(Source.WMS, "partner:sim-wms")
CARRIER = Provenance(Source.CARRIER, "partner:sim-carrier")


def _submission(order: SimOrder, attribution: dict[str, str]) -> OrderSubmission:
    return OrderSubmission(
        channel=order.channel, channel_order_id=order.channel_order_id, status=order.final_status,
        currency=order.currency, placed_at=order.placed_at,
        lines=[LineSubmission(x.sku, x.title, x.quantity, decimal_text(x.unit_price)) for x in order.lines],
        paid_at=order.paid_at, cancelled_at=order.cancelled_at,
        shipping_amount=decimal_text(order.shipping_amount), discount_amount=decimal_text(order.discount_amount),
        buyer_phone=order.buyer_phone, platform_buyer_id=order.platform_buyer_id, warehouse_code=order.warehouse_code,
        attribution=AttributionSubmission(attribution.get("utmSource"), attribution.get("utmMedium"),
                                          attribution.get("utmCampaign"), attribution.get("landingUrl")),
    )  # fmt: skip


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _evidence(kind: str, body: dict[str, Any]) -> ev.Evidence | None:
    problems = Problems()
    if kind == "carrier":
        b = body
        sub = ev.CarrierSubmission(b["eventId"], b["carrierCode"], b["trackingNumber"], b["action"],
                                   datetime.fromisoformat(b["occurredAt"]), b.get("location"))  # fmt: skip
        found = ev.validate_carrier(sub, (), problems)
    elif "scan" in body:
        s = body["scan"]
        found = ev.validate_scan(
            ev.ScanSubmission(
                s["eventId"], s["deliveryOrderCode"], s["warehouseCode"], s["scanType"],
                datetime.fromisoformat(s["scannedAt"]), s.get("zone"), s.get("station"), None, s.get("operatorName"),
                s.get("expressCode"), None, s.get("customerId"),
            ), (), problems,
        )  # fmt: skip
    else:
        c = body["confirmation"]
        found = ev.validate_confirmation(
            ev.ConfirmationSubmission(
                c["deliveryOrderCode"], c["warehouseCode"], c["status"], c["outBizCode"], c["confirmType"], None,
                c.get("operatorName"), _time(c.get("operateTime")), c.get("logisticsCode"), c.get("expressCode"),
                [ev.PackageSubmission(p.get("logisticsCode"), p.get("expressCode"), None,
                                      [ev.PackageItem(i["itemCode"], i["quantity"]) for i in p["items"]])
                 for p in c["packages"]],
                [ev.ConfirmLine(x["orderLineNo"], x["itemCode"], x["planQty"], x["actualQty"])
                 for x in c["orderLines"]],
                customer_id=c.get("customerId"),
            ), (), problems,
        )  # fmt: skip
    assert not problems.items, problems.items
    return found


async def _run_day(rt: Runtime, sim: SimHealth, orders: tuple[SimOrder, ...]) -> None:
    for start in range(0, len(orders), 100):
        batch = []
        for order in orders[start : start + 100]:
            problems = Problems()
            canonical = validate_submission(_submission(order, sim.attribution[order.channel_order_id]), (), problems)
            assert canonical is not None, problems.items
            batch.append(canonical)
        async with rt.core.sessions() as session, session.begin():
            await OrderService(session, rt.core.identity, Outbox(), 1800).submit(
                batch, Provenance(Source.CHANNEL, "partner:sim-bridge")
            )
    async with rt.core.sessions() as session:
        ids = {o.channel_order_id: o.id for o in (await session.exec(select(Order))).all()}
    for event in sim.fulfilment.events:
        order_id = ids[event.order.channel_order_id]
        assert order_id is not None
        async with rt.core.sessions() as session, session.begin():
            service = FulfilmentService(session, Outbox())
            if event.kind == "request":
                await service.request_shipment(order_id, STAFF, datetime.fromisoformat(event.body["requestedAt"]))
            elif event.kind == "withdraw":
                await service.withdraw_shipment(order_id, STAFF, event.body["reason"],
                                                datetime.fromisoformat(event.body["withdrawnAt"]))  # fmt: skip
            else:
                evidence = _evidence(event.kind, event.body)
                assert evidence is not None
                await service.record(evidence, WMS if event.kind == "warehouse" else CARRIER)
    async with rt.core.sessions() as session, session.begin():
        for report in sim.reports:
            order_id = ids[report.channel_order_id]
            assert order_id is not None
            given = CustomerReport(ExternalSystem(report.system), report.customer_id, report.grade)
            await record_customer_ref(session, order_id, given, f"partner:sim-{report.system.lower()}")
        for order, txn, amount, at in sim.notices:
            notice = PaymentNotice(PROVIDER, txn, VoucherKind.PAYMENT, order.channel_order_id, amount, "CNY",
                                   VoucherStatus.CONFIRMED, at)  # fmt: skip
            await post_notice(session, notice, outbox=Outbox(), received_at=at + timedelta(seconds=5))
    data = bank_csv(sim.statement)
    async with rt.core.sessions() as session, session.begin():
        parsed = parse_statement("lianlian-20261124.csv", data, provider=PROVIDER)
        imported = await import_statement(session, "lianlian-20261124.csv", data, parsed, "finance@shop.example")
        await reconcile(session, [imported.statement_id], trigger="test")
    async with rt.core.sessions() as session:
        rows = (await session.exec(select(OrderException).order_by(col(OrderException.id)))).all()
    by_id = {v: k for k, v in ids.items()}
    for row in rows:
        if row.order_id is not None and by_id[row.order_id] in sim.resolve:
            assert row.id is not None
            async with rt.core.sessions() as session, session.begin():
                await resolve_exception(session, Outbox(), row.id, "staff:sim-ops@shop.example", "handled")


async def test_each_metric_equals_the_simulators_own_count(rt: Runtime) -> None:
    day = generate_day(7, DAY, 300)
    start = datetime.combine(DAY, time(0), SHANGHAI)
    sim = generate_health(day, start + timedelta(days=4), limit=140)
    want = expected(sim.truth)
    assert all(sim.truth[k] > 0 for k in ("drift", "fault:missing_utm_source", "fault:wrong_utm_source",
                                          "fault:lost_notification", "fault:wms_customer_id_differs", "exceptions",
                                          "exceptions_resolved")), sim.truth  # fmt: skip
    assert sim.truth["exceptions_resolved"] < sim.truth["exceptions"]
    await _run_day(rt, sim, day.orders)

    now = utcnow()
    window = Window(start, now + timedelta(hours=1))
    later = now + timedelta(hours=73)  # every exception is then past its 72 hours
    got = {}
    async with rt.core.sessions() as session:
        for metric in Metric:
            for grouped in (True, False):  # per channel and warehouse, and the overall shortcut, agree
                counts = await measure(session, metric, window, later, grouped=grouped)
                pair = (sum(c.numerator for c in counts), sum(c.denominator for c in counts))
                assert got.setdefault(metric.value, pair) == pair, (metric, grouped)
        closure_now = await measure(session, Metric.EXCEPTION_CLOSURE, window, now)
        params = {"start": window.start, "end": window.end}
        from_log = (await session.execute(STATUS_DRIFT_FROM_EVENTS, params)).all()
    assert got == want, sim.truth
    assert (sum(r.numerator for r in from_log), sum(r.denominator for r in from_log)) == want["STATUS_DRIFT"]
    resolved = sim.truth["exceptions_resolved"]  # while younger than 72 h, open ones wait outside the denominator
    assert (sum(c.numerator for c in closure_now), sum(c.denominator for c in closure_now)) == (resolved, resolved)
