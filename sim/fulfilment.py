"""What the warehouse floor and the carriers report for a simulated day's paid orders, faults included.

The faults are the ones orderhub exists for: a clerk clicks "ship" and nothing leaves for hours, a
picker pre-scans a parcel before anyone asked for it, a scanner fires twice, a parcel is "scanned
out" a minute after the click to turn a dashboard green, a confirmation arrives without a tracking
number. Events after `cutoff` have not happened yet and are not produced; the ground truth counts
what really happened by then, so a demo or a test can score what orderhub concluded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any, Final
from zoneinfo import ZoneInfo

from sim import floor
from sim.day import SimDay, SimOrder
from sim.weighted import Weighted

CARRIERS: Final = Weighted([("SF", 40), ("ZTO", 30), ("YTO", 20), ("JD", 10)])
OPERATORS: Final = ("Li Lei", "Han Meimei", "Zhang Wei", "Wang Fang", "Liu Yang", "Chen Jing", "Zhao Min")
PICK_ZONES: Final = ("A", "B", "C")
PACK_STATIONS: Final = ("packing station A", "packing station B", "packing station C", "packing station D")

NORMAL: Final = "normal"
NOT_REQUESTED: Final = "not_requested"
STUCK: Final = "stuck"
PRE_SCAN: Final = "pre_scan"
TOO_SOON: Final = "too_soon"
DUPLICATE_SCAN: Final = "duplicate_scan"
NO_TRACKING: Final = "no_tracking"
FATES: Final = Weighted(
    [(NORMAL, 73), (NOT_REQUESTED, 5), (STUCK, 9), (PRE_SCAN, 4), (TOO_SOON, 3), (DUPLICATE_SCAN, 5), (NO_TRACKING, 1)]
)


@dataclass(frozen=True, slots=True)
class FulfilmentEvent:
    """`kind` is request (staff), warehouse (a WarehouseEventInput) or carrier (a CarrierEventInput)."""

    at: datetime
    kind: str
    order: SimOrder
    body: dict[str, Any]


@dataclass(frozen=True)
class SimFulfilment:
    cutoff: datetime
    events: tuple[FulfilmentEvent, ...]
    fates: dict[str, str]  # channel order id -> fate
    truth: dict[str, int] = field(default_factory=dict)

    def by_order(self) -> list[list[FulfilmentEvent]]:
        """Each order's events in time order; orders are independent of one another."""
        grouped: dict[str, list[FulfilmentEvent]] = {}
        for event in self.events:
            grouped.setdefault(event.order.channel_order_id, []).append(event)
        return list(grouped.values())


def generate_fulfilment(
    day: SimDay, cutoff: datetime, *, limit: int | None = None, stuck_after: timedelta = timedelta(hours=4)
) -> SimFulfilment:
    """The same day, cutoff and limit always give the same events; `stuck_after` only shapes the truth counts."""
    rng = Random(f"orderhub-fulfil:{day.seed}:{day.day.isoformat()}")
    paid = [o for o in day.orders if o.paid_at is not None][:limit]
    events: list[FulfilmentEvent] = []
    fates: dict[str, str] = {}
    truth: Counter[str] = Counter(dict.fromkeys(("clicked", "physically_shipped", "delivered"), 0))
    for order in paid:
        fate = FATES.pick(rng)
        fates[order.channel_order_id] = fate
        produced = [e for e in _order_events(rng, order, fate) if e.at <= cutoff]
        events.extend(produced)
        count_truth(truth, fate, produced, cutoff, stuck_after)
    events.sort(key=lambda e: (e.at, e.order.channel_order_id))
    truth["orders"] = len(paid)
    return SimFulfilment(cutoff, tuple(events), fates, dict(truth))


_LOCAL: Final = ZoneInfo("Asia/Shanghai")


def _on_floor(step: Any, at: datetime, *args: Any) -> datetime:
    """A wait of `sim.floor`, whose clock is the warehouse's local wall time."""
    local = at.astimezone(_LOCAL).replace(tzinfo=None)
    done: datetime = step(local, *args)
    return done.replace(tzinfo=_LOCAL).astimezone(at.tzinfo)


def _minutes(rng: Random, low: float, high: float) -> timedelta:
    """Log-uniform: most steps are quick, a few take very long, as on a real floor."""
    return timedelta(minutes=low * (high / low) ** rng.random())


def _order_events(rng: Random, order: SimOrder, fate: str) -> list[FulfilmentEvent]:
    assert order.paid_at is not None
    if fate == NOT_REQUESTED:
        return []
    ids = _Ids(order)
    operator = rng.choice(OPERATORS)
    zone = rng.choice(PICK_ZONES)
    station = rng.choice(PACK_STATIONS)
    carrier = CARRIERS.pick(rng)
    # Without a tracking number the waybill was never printed: neither the pack scan nor the outbound carries one.
    tracking = None if fate == NO_TRACKING else f"{carrier}{rng.randrange(10**11, 10**12)}"
    out: list[FulfilmentEvent] = []
    now = order.paid_at
    if fate == PRE_SCAN:
        now += _minutes(rng, 2, 20)
        out.append(_scan(order, ids, "PICKED", now, zone, f"pick face {zone}-{rng.randrange(1, 40):02d}", operator))
    items = sum(line.quantity for line in order.lines)
    wh = order.warehouse_code
    # The clean path takes the floor's learnable waits (waves, shifts, operators, baskets, trucks); faults keep theirs.
    if fate == PRE_SCAN:
        requested = now + _minutes(rng, 10, 240)
    else:
        requested = _on_floor(lambda t: floor.release(rng, wh, t), now)
    out.append(FulfilmentEvent(requested, "request", order, {"requestedAt": requested.isoformat()}))
    if fate == TOO_SOON:
        shipped = requested + timedelta(seconds=rng.randrange(30, 240))
        out.append(_confirm(order, ids, shipped, operator, carrier, tracking))
        return out
    now = requested
    if fate != PRE_SCAN:
        now = _on_floor(lambda t: floor.pick(rng, wh, t, operator, items, 0), now)
        out.append(_scan(order, ids, "PICKED", now, zone, f"pick face {zone}-{rng.randrange(1, 40):02d}", operator))
    if fate == STUCK:
        if rng.random() < 0.5:  # picked, then left on a packing table
            now += _minutes(rng, 5, 60)
            out.append(_scan(order, ids, "PACKED", now, "P", station, rng.choice(OPERATORS)))
        return out
    now = _on_floor(lambda t: floor.pack(rng, wh, t, operator, items, 0), now)
    packer = rng.choice(OPERATORS)
    out.append(_scan(order, ids, "PACKED", now, "P", station, packer, tracking))
    if fate == DUPLICATE_SCAN:
        out.append(_scan(order, ids, "PACKED", now + timedelta(seconds=rng.randrange(2, 90)), "P", station, packer))
    now += _minutes(rng, 1, 10)
    out.append(_scan(order, ids, "WEIGHED", now, "W", "scale 1", packer, tracking))
    now = _on_floor(lambda t: floor.outbound(rng, t, carrier), now)
    if fate == NO_TRACKING:
        out.append(_confirm(order, ids, now, packer, None, None))
        return out
    assert tracking is not None
    out.append(_confirm(order, ids, now, packer, carrier, tracking))
    delivered = _on_floor(lambda t: floor.deliver(rng, t, carrier), now)
    now += _minutes(rng, 20, 120)
    out.append(_carrier(order, ids, "PICKED_UP", now, carrier, tracking, "outbound dock"))
    now += _minutes(rng, 120, 480)
    out.append(_carrier(order, ids, "IN_TRANSIT", now, carrier, tracking, "sorting hub"))
    now = max(delivered, now + timedelta(minutes=30))
    out.append(_carrier(order, ids, "DELIVERED", now, carrier, tracking, "front desk"))
    return out


class _Ids:
    def __init__(self, order: SimOrder) -> None:
        self.base = order.channel_order_id
        self.count = 0

    def next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.base}-{self.count}"


def _scan(
    order: SimOrder,
    ids: _Ids,
    kind: str,
    at: datetime,
    zone: str,
    station: str,
    operator: str,
    tracking: str | None = None,
) -> FulfilmentEvent:
    body = {
        "scan": {
            "eventId": ids.next("SCAN"),
            "deliveryOrderCode": order.channel_order_id,
            "warehouseCode": order.warehouse_code,
            "scanType": kind,
            "scannedAt": at.isoformat(),
            "zone": zone,
            "station": station,
            "operatorName": operator,
            "expressCode": tracking,
        }
    }
    return FulfilmentEvent(at, "warehouse", order, body)


def _confirm(
    order: SimOrder, ids: _Ids, at: datetime, operator: str, carrier: str | None, tracking: str | None
) -> FulfilmentEvent:
    body = {
        "confirmation": {
            "deliveryOrderCode": order.channel_order_id,
            "warehouseCode": order.warehouse_code,
            "status": "DELIVERED",
            "outBizCode": ids.next("DO"),
            "confirmType": "FINAL",
            "operatorName": operator,
            "operateTime": at.isoformat(),
            "logisticsCode": carrier,
            "expressCode": tracking,
            "packages": [
                {"logisticsCode": carrier, "expressCode": tracking,
                 "items": [{"itemCode": x.sku, "quantity": x.quantity} for x in order.lines]}
            ],
            "orderLines": [
                {"orderLineNo": str(n), "itemCode": x.sku, "planQty": x.quantity, "actualQty": x.quantity}
                for n, x in enumerate(order.lines, start=1)
            ],
        }
    }  # fmt: skip
    return FulfilmentEvent(at, "warehouse", order, body)


def _carrier(
    order: SimOrder, ids: _Ids, action: str, at: datetime, carrier: str, tracking: str, location: str
) -> FulfilmentEvent:
    body = {
        "eventId": ids.next("TRK"),
        "carrierCode": carrier,
        "trackingNumber": tracking,
        "action": action,
        "occurredAt": at.isoformat(),
        "location": location,
    }
    return FulfilmentEvent(at, "carrier", order, body)


def count_truth(
    truth: Counter[str],
    fate: str,
    produced: list[FulfilmentEvent],
    cutoff: datetime,
    stuck_after: timedelta,
) -> None:
    """What really happened by the cutoff, in the terms the demo compares."""
    requested = [e for e in produced if e.kind == "request"]
    if requested:
        truth["clicked"] += 1  # a click-driven shop shows each of these as shipped
    left = fate not in (STUCK, TOO_SOON) and any("confirmation" in e.body for e in produced)
    if left:
        truth["physically_shipped"] += 1
    if any(e.body.get("action") == "DELIVERED" for e in produced):
        truth["delivered"] += 1
    if fate == PRE_SCAN and produced:
        truth["fault:pre_scan"] += 1
    if fate == DUPLICATE_SCAN and sum(1 for e in produced if e.body.get("scan", {}).get("scanType") == "PACKED") > 1:
        truth["fault:duplicate_scan"] += 1
    if fate == TOO_SOON and any("confirmation" in e.body for e in produced):
        truth["fault:too_soon"] += 1
    if fate == NO_TRACKING and left:
        truth["fault:no_tracking"] += 1
    if requested and not left:
        truth["not_left_after_click"] += 1
        if requested[0].at < cutoff - stuck_after:
            truth["stuck_after_click"] += 1
