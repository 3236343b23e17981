"""The duplicate heatmap counts orders a buyer paid twice as well as pending duplicates grouped under a parent,
cuts rows by utm_source or campaign, and draws its hours and days on the merchant's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.identity.queries import HeatPeriod, bucket, duplicate_heatmap
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import group_pending_orders

HEATMAP = """query($from: DateTime!, $to: DateTime!, $cut: DuplicateCut!, $per: HeatmapPeriod!) {
  duplicateHeatmap(placedFrom: $from, placedTo: $to, cut: $cut, per: $per) {
    hour channel segment orders duplicates mergedDuplicates paidDuplicates rate } }"""
WINDOW = {"from": "2026-11-24T00:00:00+00:00", "to": "2026-11-25T00:00:00+00:00"}
PAYER = "+86 138 1234 5678"
TAPPER = "139-8765-4321"


async def submit(api: Api, creds: Credentials, order_id: str, **overrides: Any) -> dict[str, Any]:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(order_id, **overrides)}, headers=creds.writer)
    payload = result["data"]["submitOrder"]
    assert payload["userErrors"] == [], payload
    order: dict[str, Any] = payload["order"]
    return order


def paid(at: str) -> dict[str, str]:
    return {"status": "PAID", "placedAt": at, "paidAt": at}


def campaign(name: str, source: str = "douyin") -> dict[str, dict[str, str]]:
    return {"attribution": {"utmSource": source, "utmCampaign": name}}


async def seed(api: Api, creds: Credentials) -> None:
    """One buyer pays on Taobao and again on Douyin two minutes later (and once more two hours later, no
    duplicate); another taps pay twice, and the pending pair is grouped."""
    payer = {"buyer": {"phone": PAYER}}
    await submit(api, creds, "T-1", **payer, **paid("2026-11-24T20:15:00+08:00"), **campaign("double11", "taobao"))
    await submit(
        api, creds, "D-1", channel="DOUYIN", **payer, **paid("2026-11-24T20:17:00+08:00"), **campaign("double11")
    )
    await submit(api, creds, "T-2", **payer, **paid("2026-11-24T22:30:00+08:00"), **campaign("double11", "taobao"))
    tapper = {"buyer": {"phone": TAPPER}, **campaign("brand", "taobao")}
    first = await submit(api, creds, "T-5", **tapper, placedAt="2026-11-24T20:40:00+08:00")
    await submit(api, creds, "T-6", **tapper, placedAt="2026-11-24T20:41:00+08:00")
    await group_pending_orders({"runtime": api.runtime}, int(first["id"].rsplit("/", 1)[1]))


async def cells(api: Api, creds: Credentials, cut: str = "CHANNEL", per: str = "HOUR") -> list[dict[str, Any]]:
    result = await api.gql(HEATMAP, {**WINDOW, "cut": cut, "per": per}, headers=creds.admin)
    found: list[dict[str, Any]] = result["data"]["duplicateHeatmap"]
    return found


async def test_paid_duplicates_count_beside_grouped_ones(api: Api, creds: Credentials) -> None:
    await seed(api, creds)
    by_channel = await cells(api, creds)
    assert sum(c["orders"] for c in by_channel) == 5  # the group's parent is orderhub's own row
    assert (sum(c["mergedDuplicates"] for c in by_channel), sum(c["paidDuplicates"] for c in by_channel)) == (2, 1)
    douyin = next(c for c in by_channel if c["channel"] == "DOUYIN")
    assert (douyin["hour"], douyin["orders"], douyin["paidDuplicates"], douyin["duplicates"], douyin["rate"]) == (
        "2026-11-24T12:00:00+00:00",
        1,
        1,
        1,
        1.0,
    )
    assert all(c["segment"] is None for c in by_channel)
    taobao = {c["hour"]: c for c in by_channel if c["channel"] == "TAOBAO"}
    assert (taobao["2026-11-24T12:00:00+00:00"]["orders"], taobao["2026-11-24T12:00:00+00:00"]["duplicates"]) == (3, 2)
    assert taobao["2026-11-24T14:00:00+00:00"]["duplicates"] == 0  # paid again, but hours later: a new purchase


async def test_rows_cut_by_campaign_and_by_source(api: Api, creds: Credentials) -> None:
    await seed(api, creds)
    by_campaign = await cells(api, creds, "UTM_CAMPAIGN", "DAY")
    totals: dict[str | None, tuple[int, int, int]] = {}
    for c in by_campaign:
        assert c["hour"] == "2026-11-23T16:00:00+00:00"  # the merchant's day, Asia/Shanghai, starts at 16:00 UTC
        orders, merged, twice = totals.get(c["segment"], (0, 0, 0))
        totals[c["segment"]] = (orders + c["orders"], merged + c["mergedDuplicates"], twice + c["paidDuplicates"])
    assert totals == {"double11": (3, 0, 1), "brand": (2, 2, 0)}
    by_source = {(c["channel"], c["segment"]): c for c in await cells(api, creds, "UTM_SOURCE", "DAY")}
    assert set(by_source) == {("TAOBAO", "taobao"), ("DOUYIN", "douyin")}
    assert by_source[("DOUYIN", "douyin")]["paidDuplicates"] == 1


async def test_hours_are_the_merchants_even_off_the_utc_hour(api: Api, creds: Credentials) -> None:
    await seed(api, creds)
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: its hours start at half past UTC's
    moment = datetime(2026, 11, 24, 12, 15, tzinfo=UTC)
    assert bucket(moment, kolkata, HeatPeriod.HOUR) == datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
    assert bucket(moment, kolkata, HeatPeriod.DAY) == datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
    async with api.runtime.core.sessions() as session:
        found = await duplicate_heatmap(
            session, datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC), tz=kolkata
        )
    assert {c.hour.minute for c in found} == {30}
    assert sum(c.paid for c in found) == 1
    assert await cells(api, creds) != await cells(api, creds, per="DAY")
