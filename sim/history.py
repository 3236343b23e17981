"""Weeks of simulated fulfilment history as an event log, for training and measuring the next-step model.

Orders arrive by the same hourly shape as the simulated day; each then flows through the floor of
`sim.floor`, one stage at a time for all orders, so the queue in front of an order is the real count of
orders of its warehouse in the same stage at that moment. The log has what orderhub's own order log has
(stage, warehouse, operator, zone or station, channel, carrier, basket) in UTC, and nothing of the floor's
parameters.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

from ml.eventlog import Event
from sim.catalog import WAREHOUSE_WEIGHTS, WAREHOUSES
from sim.channels import CHANNEL_SHARES
from sim.day import HOURLY_WEIGHTS
from sim.floor import deliver, outbound, pack, pick, release
from sim.fulfilment import CARRIERS, OPERATORS, PACK_STATIONS, PICK_ZONES
from sim.weighted import Weighted

_HOUR = Weighted(enumerate(HOURLY_WEIGHTS))
_WAREHOUSE = Weighted(zip(WAREHOUSES, WAREHOUSE_WEIGHTS, strict=True))
_CHANNEL = Weighted(CHANNEL_SHARES.items())
_LINES = Weighted([(1, 1200), (2, 500), (3, 200), (4, 50), (5, 30), (6, 20)])
_QUANTITY = Weighted([(1, 85), (2, 11), (3, 4)])


@dataclass
class _Order:
    key: str
    warehouse: str
    channel: str
    carrier: str
    picker: str
    packer: str
    zone: str
    station: str
    lines: int
    items: int
    times: list[datetime]  # local stage entry times, PAID first


def simulate_history(seed: int, start: date, days: int, orders_per_day: int, tz: str = "Asia/Shanghai") -> list[Event]:
    """Stage entries of every order paid in [start, start + days); same arguments, same log."""
    rng = Random(f"orderhub-history:{seed}:{start.isoformat()}:{days}:{orders_per_day}")
    orders = [_new_order(rng, n, start, days) for n in range(days * orders_per_day)]
    orders.sort(key=lambda o: o.times[0])
    for order in orders:
        order.times.append(release(rng, order.warehouse, order.times[0]))
    _queue(orders, lambda o, q: pick(rng, o.warehouse, o.times[-1], o.picker, o.items, q))
    _queue(orders, lambda o, q: pack(rng, o.warehouse, o.times[-1], o.picker, o.items, q))
    for order in orders:
        order.times.append(outbound(rng, order.times[-1], order.carrier))
        order.times.append(deliver(rng, order.times[-1], order.carrier))
    zone = ZoneInfo(tz)
    return [event for order in orders for event in _events(order, zone)]


def _new_order(rng: Random, n: int, start: date, days: int) -> _Order:
    day = start + timedelta(days=rng.randrange(days))
    paid = datetime.combine(day, datetime.min.time()) + timedelta(hours=_HOUR.pick(rng), seconds=rng.random() * 3600)
    lines = _LINES.pick(rng)
    return _Order(
        key=f"h{n}",
        warehouse=_WAREHOUSE.pick(rng),
        channel=_CHANNEL.pick(rng),
        carrier=CARRIERS.pick(rng),
        picker=rng.choice(OPERATORS),
        packer=rng.choice(OPERATORS),
        zone=rng.choice(PICK_ZONES),
        station=rng.choice(PACK_STATIONS),
        lines=lines,
        items=sum(_QUANTITY.pick(rng) for _ in range(lines)),
        times=[paid],
    )


def _queue(orders: list[_Order], step: object) -> None:
    """Runs one stage for all orders in order of entry, counting per warehouse how many are still in it."""
    inside: dict[str, list[datetime]] = defaultdict(list)
    for order in sorted(orders, key=lambda o: o.times[-1]):
        entered = order.times[-1]
        heap = inside[order.warehouse]
        while heap and heap[0] <= entered:
            heapq.heappop(heap)
        done = step(order, len(heap))  # type: ignore[operator]
        heapq.heappush(heap, done)
        order.times.append(done)


def _events(order: _Order, zone: ZoneInfo) -> list[Event]:
    paid, requested, picked, packed, shipped, delivered = order.times
    common = {"channel": order.channel, "items": order.items, "lines": order.lines}
    steps = [
        ("PAID", paid, "", "", ""),
        ("SHIP_REQUESTED", requested, "", "", ""),
        ("PICKED", picked, order.picker, f"zone {order.zone}", ""),
        ("PACKED", packed, order.packer, order.station, order.carrier),
        ("SHIPPED", shipped, order.packer, order.station, order.carrier),
        ("DELIVERED", delivered, order.packer, order.station, order.carrier),
    ]
    out = []
    for activity, local, operator, place, carrier in steps:
        at = local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        out.append(Event(at, order.key, activity, order.warehouse, operator, place, carrier=carrier, **common))  # type: ignore[arg-type]
    return out
