"""Fulfilment lead time on both databases: each leg counted on the merchant day it ended, per warehouse, with exact
medians and nearest-rank 90th percentiles; the same numbers through GraphQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.clock import utcnow
from domain.errors import Problems
from domain.health import lead_times
from domain.health.lead_times import Leg
from domain.health.windows import Window
from domain.orders.models import Order
from runtime.process import Runtime
from tests.conftest import Api, Credentials

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEAD = """query($input: FulfilmentLeadTimesInput) { fulfilmentLeadTimes(input: $input) { from to timezone
  days { warehouse day toOutbound { count medianHours p90Hours } toDelivery { count medianHours p90Hours } }
  userErrors { field code message } } }"""


def local(text: str) -> datetime:
    """A Shanghai wall-clock time `11-02 07:00` in 2026 as an aware UTC time."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))


# warehouse, ship request, outbound, delivery (Shanghai wall clock)
PARCELS: list[tuple[str | None, str | None, str, str | None]] = [
    ("WH-SH", "11-02 01:00", "11-02 07:00", "11-03 13:00"),  # 6.0 h, then 30 h
    ("WH-SH", "11-02 10:00", "11-02 18:18", None),  # 8.3 h
    ("WH-SH", "11-02 11:59", "11-02 23:59", "11-04 11:59"),  # 12.0 h on the 2nd (15:59 UTC), then 36 h
    ("WH-SH", "11-02 22:30", "11-03 00:00", None),  # 1.5 h on the 3rd (16:00 UTC on the 2nd)
    ("WH-SH", "11-03 08:00", "11-03 10:06", "11-04 10:06"),  # 2.1 h, then 24 h
    ("WH-SH", "11-03 09:00", "11-03 12:00", None),  # 3.0 h
    ("WH-BJ", "11-03 09:00", "11-03 13:00", "11-03 21:00"),  # 4 h, then 8 h
    (None, "11-02 09:00", "11-02 11:00", None),  # 2 h, no warehouse named
    ("WH-SH", "11-03 10:00", "11-03 09:00", None),  # outbound before the request: an exception, not a lead time
    ("WH-SH", "11-04 20:00", "11-05 01:00", None),  # after the range
    ("WH-SH", None, "11-03 20:00", "11-04 08:00"),  # no request on record: only the carrier's 12 h counts
]


async def _seed(rt: Runtime) -> None:
    now = utcnow()
    async with rt.core.sessions() as session, session.begin():
        for n, (warehouse, requested, outbound, delivered) in enumerate(PARCELS):
            session.add(Order(
                channel="TAOBAO", channel_order_id=f"L-{n}", status="DELIVERED" if delivered else "SHIPPED",
                currency="CNY", items_amount=100, shipping_amount=0, discount_amount=0, total_amount=100,
                warehouse_code=warehouse, placed_at=local("11-01 12:00"), created_at=now, updated_at=now,
                ship_requested_at=local(requested) if requested else None, shipped_at=local(outbound),
                delivered_at=local(delivered) if delivered else None,
            ))  # fmt: skip


def _window() -> Window:
    return Window(local("11-02 00:00"), local("11-05 00:00"))


EXPECTED = [
    ("WH-BJ", "2026-11-03", Leg(1, 4.0, 4.0), Leg(1, 8.0, 8.0)),
    ("WH-SH", "2026-11-02", Leg(3, 8.3, 12.0), Leg(0, None, None)),
    ("WH-SH", "2026-11-03", Leg(3, 2.1, 3.0), Leg(1, 30.0, 30.0)),
    ("WH-SH", "2026-11-04", Leg(0, None, None), Leg(3, 24.0, 36.0)),
    (None, "2026-11-02", Leg(1, 2.0, 2.0), Leg(0, None, None)),
]


async def test_lead_times_per_warehouse_and_merchant_day(rt: Runtime) -> None:
    await _seed(rt)
    async with rt.core.sessions() as session:
        rows = await lead_times.lead_times(session, _window(), SHANGHAI)
        only = await lead_times.lead_times(session, _window(), SHANGHAI, "WH-BJ")
    got = [(r.warehouse, r.day.isoformat(), r.to_outbound, r.to_delivery) for r in rows]
    assert got == EXPECTED
    assert [(r.warehouse, r.day.isoformat()) for r in only] == [("WH-BJ", "2026-11-03")]


def test_even_counts_take_the_middle_two_and_p90_is_a_real_lead_time() -> None:
    assert Leg.of([4.0, 1.0, 3.0, 2.0]) == Leg(4, 2.5, 4.0)
    assert Leg.of([float(h) for h in range(1, 21)]) == Leg(20, 10.5, 18.0)
    assert Leg.of([]) == Leg(0, None, None)


def test_the_default_range_is_the_last_seven_merchant_days() -> None:
    problems = Problems()
    window = lead_times.resolve_range(problems, SHANGHAI, 366, None, None, now=local("11-10 09:30"))
    assert window is not None and problems.items == []
    assert (window.start, window.end) == (local("11-04 00:00"), local("11-11 00:00"))
    until = lead_times.resolve_range(problems, SHANGHAI, 366, None, local("11-10 09:30"))
    assert until is not None and (until.start, until.end) == (local("11-04 00:00"), local("11-10 09:30"))


async def test_lead_times_over_graphql(api: Api, creds: Credentials) -> None:
    await _seed(api.runtime)
    span = {"from": local("11-02 00:00").isoformat(), "to": local("11-05 00:00").isoformat()}
    body = await api.gql(LEAD, {"input": span}, headers=creds.cs)
    answer = body["data"]["fulfilmentLeadTimes"]
    assert answer["userErrors"] == [] and answer["timezone"] == "Asia/Shanghai"
    assert answer["from"].startswith("2026-11-01T16:00:00") and answer["to"].startswith("2026-11-04T16:00:00")

    def leg(data: dict[str, float | int | None]) -> Leg:
        return Leg(int(data["count"] or 0), data["medianHours"], data["p90Hours"])

    got = [(d["warehouse"], d["day"], leg(d["toOutbound"]), leg(d["toDelivery"])) for d in answer["days"]]
    assert got == EXPECTED

    only = await api.gql(LEAD, {"input": {**span, "warehouse": "WH-SH"}}, headers=creds.admin)
    assert [d["day"] for d in only["data"]["fulfilmentLeadTimes"]["days"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]

    inverted = await api.gql(LEAD, {"input": {"from": span["to"], "to": span["from"]}}, headers=creds.admin)
    assert [e["code"] for e in inverted["data"]["fulfilmentLeadTimes"]["userErrors"]] == ["INVERTED_RANGE"]
    too_long = {"from": (utcnow() - timedelta(days=400)).isoformat(), "to": utcnow().isoformat()}
    refused = await api.gql(LEAD, {"input": too_long}, headers=creds.admin)
    assert [e["code"] for e in refused["data"]["fulfilmentLeadTimes"]["userErrors"]] == ["PERIOD_TOO_LONG"]

    partner = await api.gql(LEAD, {}, headers=creds.reader)
    assert partner["data"] is None and partner["errors"]
