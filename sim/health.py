"""The faults behind the five health metrics, planted on a simulated day, each with the metric it must move.

Attribution: most orders arrive with the utm_source of their channel; some with a landing URL and no utm_source,
some with another channel's source. Status drift: a clerk clicks "ship", takes it back and clicks again (two
flips beyond the shortest path each). Vouchers: a payment notification lost (the statement line finds no voucher)
or a statement amount that differs. Customer ids: ERP reports every order's customer, CRM some, the warehouse
inside its events; now and then the warehouse knows the buyer under another id. Exceptions: the fulfilment
faults open them; the simulated staff close some at once and leave the rest.

`truth` counts what each metric's numerator and denominator must be, from the simulator's own decisions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Final

from sim.day import SimDay, SimOrder
from sim.fulfilment import NORMAL, FulfilmentEvent, SimFulfilment, count_truth, generate_fulfilment
from sim.statements import BillRow

SOURCES: Final = {
    "DOUYIN": "douyin", "TAOBAO": "taobao", "TMALL": "tmall", "WECHAT_MINI": "wechat_mini",
    "WECHAT_CHANNELS": "wechat_channels", "AMAZON": "amazon",
}  # fmt: skip
CAMPAIGNS: Final = ("double12", "live-evening", "new-tea", "retarget")
LANDINGS: Final = ("https://shop.example/tea", "https://shop.example/live", "https://m.shop.example/cups")

MISSING_UTM_SHARE: Final = 0.03
WRONG_SOURCE_SHARE: Final = 0.01
DRIFT_CLICK_SHARE: Final = 0.12  # of orders whose ship request went normally
LOST_NOTIFICATION_SHARE: Final = 0.02
AMOUNT_DIFF_SHARE: Final = 0.01
CRM_SHARE: Final = 0.4
WMS_OTHER_ID_SHARE: Final = 0.05
RESOLVED_SHARE: Final = 0.7
PROVIDER: Final = "lianlian"


@dataclass(frozen=True)
class CustomerReportSim:
    system: str
    channel_order_id: str
    customer_id: str
    grade: str


@dataclass(frozen=True)
class SimHealth:
    attribution: dict[str, dict[str, str]]  # channel order id -> AttributionInput (camelCase)
    fulfilment: SimFulfilment  # with the drift clicks and the warehouse's customer ids woven in
    reports: tuple[CustomerReportSim, ...]  # ERP and CRM, sent through the partner mutation
    notices: tuple[tuple[SimOrder, str, int, datetime], ...]  # order, txn id, amount, provider time
    statement: tuple[BillRow, ...]
    resolve: frozenset[str]  # channel order ids whose exceptions staff close at once
    truth: dict[str, int] = field(default_factory=dict)


def customer_of(order: SimOrder) -> str:
    return f"CUST-{order.buyer_id:06d}"


def _attribution(rng: Random, order: SimOrder, truth: Counter[str]) -> dict[str, str]:
    landing = rng.choice(LANDINGS)
    campaign = rng.choice(CAMPAIGNS)
    roll = rng.random()
    if roll < MISSING_UTM_SHARE:
        truth["fault:missing_utm_source"] += 1
        return {"landingUrl": f"{landing}?utm_campaign={campaign}"}
    if roll < MISSING_UTM_SHARE + WRONG_SOURCE_SHARE:
        truth["fault:wrong_utm_source"] += 1
        other = rng.choice([s for c, s in SOURCES.items() if c != order.channel])
        return {"utmSource": other, "utmMedium": "cpc", "landingUrl": landing}
    truth["attributed"] += 1
    if rng.random() < 0.5:  # half send the parameters only inside the landing URL
        return {
            "landingUrl": f"{landing}?utm_source={SOURCES[order.channel]}&utm_medium=social&utm_campaign={campaign}"
        }
    return {"utmSource": SOURCES[order.channel].upper(), "utmMedium": "social", "utmCampaign": campaign,
            "landingUrl": landing}  # fmt: skip


def _with_customer(event: FulfilmentEvent, customer_id: str) -> FulfilmentEvent:
    if event.kind != "warehouse":
        return event
    ((key, body),) = event.body.items()
    return FulfilmentEvent(event.at, event.kind, event.order, {key: {**body, "customerId": customer_id}})


def plan_attribution(day: SimDay) -> tuple[dict[str, dict[str, str]], Counter[str]]:
    """Each order's attribution input by channel order id, drawn on its own so a demo can send just these."""
    rng = Random(f"orderhub-attribution:{day.seed}:{day.day.isoformat()}")
    truth: Counter[str] = Counter()
    return {o.channel_order_id: _attribution(rng, o, truth) for o in day.orders}, truth


def generate_health(day: SimDay, cutoff: datetime, *, limit: int | None = None) -> SimHealth:
    """The same day, cutoff and limit always give the same faults and the same truth."""
    rng = Random(f"orderhub-health:{day.seed}:{day.day.isoformat()}")
    attribution, truth = plan_attribution(day)
    truth["orders"] = len(day.orders)

    base = generate_fulfilment(day, cutoff, limit=limit)
    events: list[FulfilmentEvent] = []
    reports: list[CustomerReportSim] = []
    resolve: set[str] = set()
    for produced in base.by_order():
        order = produced[0].order
        cid = order.channel_order_id
        fate = base.fates[cid]
        wms_id = customer_of(order)
        if produced and any(e.kind == "warehouse" for e in produced) and rng.random() < WMS_OTHER_ID_SHARE:
            wms_id = f"WMS-{order.buyer_id:06d}"
            truth["fault:wms_customer_id_differs"] += 1
        produced = [_with_customer(e, wms_id) for e in produced]
        requests = [e for e in produced if e.kind == "request"]
        if fate == NORMAL and requests and rng.random() < DRIFT_CLICK_SHARE:
            first = requests[0].at
            back, again = first + timedelta(minutes=1), first + timedelta(minutes=2)
            reason = {"reason": "clicked the wrong order", "withdrawnAt": back.isoformat()}
            withdraw = FulfilmentEvent(back, "withdraw", order, reason)
            request = FulfilmentEvent(again, "request", order, {"requestedAt": again.isoformat()})
            produced = [*produced, withdraw, request]
            truth["fault:drift_click"] += 1
            truth["drift"] += 2  # SHIP_REQUESTED -> PAID -> SHIP_REQUESTED: two changes no path needs
        events.extend(produced)
        scored: Counter[str] = Counter()
        count_truth(scored, fate, [e for e in produced if e.kind in ("request", "warehouse", "carrier")], cutoff,
               timedelta(days=365))  # fmt: skip
        opened = sum(n for k, n in scored.items() if k.startswith("fault:"))
        truth["exceptions"] += opened
        if opened and rng.random() < RESOLVED_SHARE:
            resolve.add(cid)
            truth["exceptions_resolved"] += opened
        # ERP knows every order it was sent; CRM only its members; the warehouse spoke if it sent events
        reports.append(CustomerReportSim("ERP", cid, customer_of(order), "gold" if order.buyer_id % 5 == 0 else "std"))
        systems = 1 + any(e.kind == "warehouse" for e in produced)
        if rng.random() < CRM_SHARE:
            reports.append(CustomerReportSim("CRM", cid, customer_of(order), "member"))
            systems += 1
        if systems >= 2:
            truth["id_reported"] += 1
            truth["id_agree"] += int(wms_id == customer_of(order))
    events.sort(key=lambda e: (e.at, e.order.channel_order_id, e.kind != "request"))
    fulfilment = SimFulfilment(cutoff, tuple(events), base.fates, base.truth)

    notices: list[tuple[SimOrder, str, int, datetime]] = []
    lines: list[BillRow] = []
    for order in (o for o in day.orders if o.paid_at is not None and o.currency == "CNY"):
        assert order.paid_at is not None
        txn = f"LL{order.channel_order_id}"
        roll = rng.random()
        amount = order.total_amount
        if roll < LOST_NOTIFICATION_SHARE:
            truth["fault:lost_notification"] += 1
        else:
            notices.append((order, txn, amount, order.paid_at))
        if LOST_NOTIFICATION_SHARE <= roll < LOST_NOTIFICATION_SHARE + AMOUNT_DIFF_SHARE:
            truth["fault:statement_amount_differs"] += 1
            amount -= 100
        elif roll >= LOST_NOTIFICATION_SHARE:
            truth["lines_matched"] += 1
        lines.append(BillRow(order.paid_at, txn, order.channel_order_id, "PAYMENT", amount))
        truth["lines"] += 1
    return SimHealth(attribution, fulfilment, tuple(reports), tuple(notices), tuple(lines), frozenset(resolve),
                     dict(truth))  # fmt: skip


def expected(truth: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) per metric, by the metric's name, as orderhub must compute them."""
    return {
        "STATUS_DRIFT": (truth.get("drift", 0), truth.get("orders", 0)),
        "CHANNEL_ATTRIBUTION": (truth.get("attributed", 0), truth.get("orders", 0)),
        "VOUCHER_MATCH": (truth.get("lines_matched", 0), truth.get("lines", 0)),
        "ID_CONSISTENCY": (truth.get("id_agree", 0), truth.get("id_reported", 0)),
        "EXCEPTION_CLOSURE": (truth.get("exceptions_resolved", 0), truth.get("exceptions", 0)),
    }
