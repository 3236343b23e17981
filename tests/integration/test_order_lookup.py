"""Finding an order as staff do on the console: by channel order number, tracking number, the buyer's phone or UID,
and the order page's one query, on both databases. A phone typed into the search is never stored nor logged."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, col

from domain.clock import utcnow
from domain.orders import queries
from domain.orders.models import Order
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, paid_order, request_ship, scan
from tests.integration.orders_fixtures import SUBMIT_ORDERS, order_input
from tests.integration.test_parcels import evidence, parcel_out
from workers.fulfilment_jobs import find_stuck_shipments

FIND = """query($filter: OrderFilter) { orders(first: 20, filter: $filter) {
  edges { node { id channel channelOrderId buyerUid } } } }"""

# What the console's order page selects (see the report in bench/README.md): kept here so a schema change that
# breaks the page fails this test.
ORDER_PAGE = """query($id: ID!) { order(id: $id) {
  id channel channelOrderId status rawStatus buyerUid placedAt paidAt shipRequestedAt shippedAt deliveredAt
  cancelledAt warehouseCode trackingNumber carrierCode currentOperator
  totalAmount { amount currencyCode } lastStageDuration { seconds text }
  predictedNextAt predictedNextStage predictedNextInterval { low high } predictionBasis
  parcels { warehouseCode carrierCode trackingNumber shippedAt deliveredAt }
  timeline {
    flow { status label at version }
    systemLog(first: 100) { edges { node { version type status source actor occurredAt recordedAt decision } }
                            pageInfo { hasNextPage endCursor } }
  }
  backtrack {
    stages { label fromStatus toStatus startedAt endedAt duration { seconds text } }
    blockingPoint { status since duration { seconds text } waitingFor warehouseCode zone station operator summary }
  }
  money {
    amountDue { amount currencyCode } amountReceived { amount currencyCode } balance { amount currencyCode }
    vouchers(first: 50) { edges { node { id provider providerTransactionId kind status amount { amount currencyCode }
                                           receivedAt reversesId reason } } }
    adjustments(first: 50) { edges { node { id amount { amount currencyCode } voucherId actor reason createdAt } } }
  }
  exceptions { id kind state summary openedAt assignedTo resolvedAt resolution }
} }"""


def channel_order_ids(result: dict[str, Any]) -> list[tuple[str, str]]:
    assert "errors" not in result, result
    return sorted((e["node"]["channel"], e["node"]["channelOrderId"]) for e in result["data"]["orders"]["edges"])


async def submit(api: Api, creds: Credentials, *orders: dict[str, Any]) -> list[dict[str, Any]]:
    result = await api.gql(SUBMIT_ORDERS, {"input": {"orders": list(orders)}}, headers=creds.writer)
    assert result["data"]["submitOrders"]["userErrors"] == [], result
    created: list[dict[str, Any]] = result["data"]["submitOrders"]["orders"]
    return created


async def test_channel_order_number_finds_the_order_on_every_channel(api: Api, creds: Credentials) -> None:
    await submit(
        api, creds,
        order_input("5001"), order_input("5001", channel="DOUYIN"), order_input("5002"), order_input("50011"),
    )  # fmt: skip
    found = await api.gql(FIND, {"filter": {"channelOrderId": "5001"}}, headers=creds.cs)
    assert channel_order_ids(found) == [("DOUYIN", "5001"), ("TAOBAO", "5001")]  # exact: not 50011
    narrowed = await api.gql(FIND, {"filter": {"channelOrderId": "5001", "channels": ["TAOBAO"]}}, headers=creds.reader)
    assert channel_order_ids(narrowed) == [("TAOBAO", "5001")]  # partners may use it too
    assert channel_order_ids(await api.gql(FIND, {"filter": {"channelOrderId": "500"}}, headers=creds.cs)) == []


async def test_tracking_number_finds_the_order_by_any_of_its_parcels(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    other = await paid_order(api, creds, "OTHER-1")
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(minutes=50))
    first = parcel_out("WH-SH-01", "OB-SH-1", "SF100000001", "SKU-TEA-001", now - timedelta(minutes=40))
    await evidence(api, creds, WAREHOUSE, first, "recordWarehouseEvent")
    second = parcel_out("WH-BJ-02", "OB-BJ-1", "SF200000002", "SKU-CUP-002", now - timedelta(minutes=30))
    await evidence(api, creds, WAREHOUSE, second, "recordWarehouseEvent")
    # A waybill printed at packing, before anything left: the order carries the number, no parcel does yet.
    await request_ship(api, who, other["id"], now - timedelta(minutes=20))
    packed = scan("PACKED", now - timedelta(minutes=10), "S-OTHER", "OTHER-1", expressCode="YT300000003")
    await evidence(api, creds, WAREHOUSE, packed, "recordWarehouseEvent")

    async def find(number: str) -> list[str]:
        result = await api.gql(FIND, {"filter": {"trackingNumber": number}}, headers=who.ops)
        assert "errors" not in result, result
        return [e["node"]["id"] for e in result["data"]["orders"]["edges"]]

    assert await find("SF100000001") == [order["id"]]  # no longer the order's current number: found by its parcel
    assert await find("SF200000002") == [order["id"]]  # the current number and a parcel's: listed once
    assert await find("YT300000003") == [other["id"]]
    assert await find("SF10000000") == []
    both = await api.gql(
        FIND, {"filter": {"trackingNumber": "SF100000001", "statuses": ["SHIPPED"]}}, headers=creds.reader
    )
    assert [e["node"]["id"] for e in both["data"]["orders"]["edges"]] == [order["id"]]


def plaintext_found(rows: list[str], digits: str) -> list[str]:
    """Rows holding the number's digits in any spelling (spaces, hyphens, a +86 prefix between them)."""
    pattern = re.compile(r"[\s\-]?".join(digits))
    return [row for row in rows if pattern.search(row)]


async def every_row(api: Api) -> list[str]:
    rows: list[str] = []
    async with api.runtime.core.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await conn.execute(text(f"SELECT * FROM {table.name}"))).all():
                rows.append(f"{table.name}: {tuple(row)!r}")
    return rows


async def test_phone_is_hashed_finds_the_buyer_and_is_never_kept(
    api: Api, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    buyer = {"phone": "+86 139 0011 2233", "platformBuyerId": "tb-buyer-1"}
    await submit(
        api, creds,
        order_input("P-1", buyer=buyer),
        order_input("P-2", channel="DOUYIN", buyer={"phone": "139-0011-2233"}),
        order_input("P-3", buyer={"phone": "13700998877"}),
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    for spelling in ("13900112233", "+86 139 0011 2233", "0086-139-0011-2233"):
        found = await api.gql(FIND, {"filter": {"phone": spelling}}, headers=creds.cs)
        assert channel_order_ids(found) == [("DOUYIN", "P-2"), ("TAOBAO", "P-1")], spelling
    uid = found["data"]["orders"]["edges"][0]["node"]["buyerUid"]
    assert uid and "13900112233" not in uid
    same = await api.gql(FIND, {"filter": {"phone": "13900112233", "channels": ["DOUYIN"]}}, headers=creds.admin)
    assert channel_order_ids(same) == [("DOUYIN", "P-2")]
    # A number no order carries, typed only into the search.
    nobody = await api.gql(FIND, {"filter": {"phone": "+86 135 5566 7788"}}, headers=creds.cs)
    assert channel_order_ids(nobody) == []
    inline = await api.gql('query { orders(first: 5, filter: {phone: "135 5566 7788"}) { edges { node { id } } } }',
                           headers=creds.cs)  # fmt: skip
    assert inline["data"]["orders"]["edges"] == []
    searched = await api.gql(FIND, {"filter": {"search": "+86 135-5566-7788"}}, headers=creds.cs)
    assert channel_order_ids(searched) == []

    rows = await every_row(api)
    assert plaintext_found(rows, "13555667788") == []
    assert plaintext_found(rows, "13900112233") == []  # nor the buyer's, though partners sent it with the orders
    logged = [r.getMessage() for r in caplog.records]
    assert plaintext_found(logged, "13555667788") == [] and plaintext_found(logged, "13900112233") == []


async def test_unusable_phone_is_refused_naming_the_field_in_the_callers_language(api: Api, creds: Credentials) -> None:
    await submit(api, creds, order_input("P-1"))
    for phone in ("138****5678", "021-6234 5678", "1390011"):
        refused = await api.gql(FIND, {"filter": {"phone": phone}}, headers={**creds.cs, "Accept-Language": "en"})
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "INVALID_PHONE", phone
        assert error["extensions"]["field"] == ["filter", "phone"]
        assert error["message"].startswith("not a usable mobile number"), error
        assert refused["data"] is None
    zh = {**creds.cs, "Accept-Language": "zh-CN"}
    chinese = await api.gql(FIND, {"filter": {"phone": "138****5678"}}, headers=zh)
    assert chinese["errors"][0]["message"].startswith("无法使用的手机号"), chinese


async def test_only_staff_search_by_phone_or_buyer(api: Api, creds: Credentials) -> None:
    [order] = await submit(api, creds, order_input("P-1"))
    listed = await api.gql(FIND, {"filter": {"channelOrderId": "P-1"}}, headers=creds.admin)
    uid = listed["data"]["orders"]["edges"][0]["node"]["buyerUid"]
    staff = await api.gql(FIND, {"filter": {"buyer": uid}}, headers=creds.cs)
    assert [e["node"]["id"] for e in staff["data"]["orders"]["edges"]] == [order["id"]]
    both = await api.gql(FIND, {"filter": {"buyer": uid, "phone": "+86 138 1234 5678"}}, headers=creds.cs)
    assert [e["node"]["id"] for e in both["data"]["orders"]["edges"]] == [order["id"]]
    disagree = await api.gql(FIND, {"filter": {"buyer": "f" * 64, "phone": "+86 138 1234 5678"}}, headers=creds.cs)
    assert disagree["data"]["orders"]["edges"] == []

    customer = creds.customer(api.runtime, uid)
    for headers in (creds.reader, creds.writer, customer):
        for field, value in (("phone", "+86 138 1234 5678"), ("buyer", uid)):
            refused = await api.gql(FIND, {"filter": {field: value}}, headers=headers)
            [error] = refused["errors"]
            assert error["extensions"] == {"code": "FORBIDDEN", "field": ["filter", field]}, (headers, field)
            assert refused["data"] is None
    anonymous = await api.gql(FIND, {"filter": {"phone": "+86 138 1234 5678"}})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A customer's own view is not widened by the other filters either.
    mine = await api.gql(FIND, {"filter": {"channelOrderId": "P-1"}}, headers=creds.customer(api.runtime, "0" * 64))
    assert mine["data"]["orders"]["edges"] == []


async def test_order_page_shows_flow_log_backtrack_money_and_exceptions(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds, "PAGE-1")
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=5))
    await evidence(api, creds, WAREHOUSE, scan("PICKED", now - timedelta(minutes=30), "S-1", "PAGE-1"),
                   "recordWarehouseEvent")  # fmt: skip
    assert await find_stuck_shipments({"runtime": api.runtime}) == 1

    found = await api.gql(FIND, {"filter": {"channelOrderId": "PAGE-1"}}, headers=creds.cs)
    gid = found["data"]["orders"]["edges"][0]["node"]["id"]
    page = await api.gql(ORDER_PAGE, {"id": gid}, headers=creds.cs)
    assert "errors" not in page, page
    view = page["data"]["order"]
    assert [s["status"] for s in view["timeline"]["flow"]] == ["PENDING_PAYMENT", "PAID", "SHIP_REQUESTED", "PICKED"]
    log = [e["node"]["type"] for e in view["timeline"]["systemLog"]["edges"]]
    assert "EXCEPTION_OPENED" in log and len(log) > len(view["timeline"]["flow"])
    blocking = view["backtrack"]["blockingPoint"]
    assert (blocking["status"], blocking["station"], blocking["operator"]) == (
        "PICKED", "packing station B", "Li Lei (E1024)"
    )  # fmt: skip
    assert blocking["since"] and blocking["duration"]["seconds"] >= 29 * 60
    assert view["money"]["amountDue"] == {"amount": "95.90", "currencyCode": "CNY"}
    [case] = view["exceptions"]
    assert (case["kind"], case["state"]) == ("STUCK_AFTER_SHIP_REQUEST", "OPEN")

    customer = await api.gql(
        """query($id: ID!) { order(id: $id) { id exceptions { id } } }""",
        {"id": gid},
        headers=creds.customer(api.runtime, view["buyerUid"]),
    )
    assert customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # the cases are staff's


async def test_one_search_box_finds_by_any_reference(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds, "7001")
    other = await paid_order(api, creds, "OTHER-1")
    [stranger] = await submit(api, creds, order_input("7002", buyer={"phone": "13700998877"}))
    now = utcnow()
    await request_ship(api, who, other["id"], now - timedelta(minutes=20))
    packed = scan("PACKED", now - timedelta(minutes=10), "S-OTHER", "OTHER-1", expressCode="YT300000003")
    await evidence(api, creds, WAREHOUSE, packed, "recordWarehouseEvent")

    async def search(text: str) -> list[str]:
        result = await api.gql(FIND, {"filter": {"search": text}}, headers=creds.cs)
        assert "errors" not in result, result
        return sorted(e["node"]["id"] for e in result["data"]["orders"]["edges"])

    assert await search("7001") == [order["id"]]
    assert await search("  YT300000003 ") == [other["id"]]
    both = sorted([order["id"], other["id"]])
    assert await search("138-1234-5678") == both  # the phone both were placed with (orders_fixtures)
    uid = (await api.gql(FIND, {"filter": {"channelOrderId": "7002"}}, headers=creds.cs))["data"]["orders"]
    assert await search(uid["edges"][0]["node"]["buyerUid"]) == [stranger["id"]]
    for nothing in ("hello", "138****5678", "700", ""):
        assert await search(nothing) == [], nothing  # not a number of ours nor a usable phone: no error either
    narrowed = await api.gql(FIND, {"filter": {"search": "13812345678", "channelOrderId": "7001"}}, headers=creds.cs)
    assert [e["node"]["id"] for e in narrowed["data"]["orders"]["edges"]] == [order["id"]]
    for headers in (creds.reader, creds.customer(api.runtime, "0" * 64)):
        refused = await api.gql(FIND, {"filter": {"search": "7001"}}, headers=headers)
        assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": ["filter", "search"]}
    assert plaintext_found(await every_row(api), "13812345678") == []


async def test_sqlite_answers_each_lookup_from_an_index(api: Api) -> None:
    """PostgreSQL's plans need a million rows to mean anything: tests/integration/test_lookup_bench.py reads them."""
    engine = api.runtime.core.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner only; PostgreSQL's plans are checked by the lookup bench's test")
    every_reference = ("ix_orders_channel_order_id", "ix_orders_tracking_number", "ix_parcel_tracking_number",
                       "ix_orders_buyer_uid_id")  # fmt: skip
    wanted = [
        (queries.OrderFilter(channel_order_id="5001"), ("ix_orders_channel_order_id",)),
        (queries.OrderFilter(tracking_number="SF1"), ("ix_orders_tracking_number", "ix_parcel_tracking_number")),
        (queries.OrderFilter(buyer_uids=["a" * 64, "b" * 64]), ("ix_orders_buyer_uid_id",)),
        (queries.OrderFilter(reference="SF1", reference_buyer_uids=["a" * 64]), every_reference),
    ]
    async with engine.connect() as conn:
        for f, indexes in wanted:
            statement = queries.filtered(queries.EVERYONE, f).order_by(col(Order.id).desc()).limit(21)
            sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            plan = " | ".join(str(r[3]) for r in (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)).all())
            for index in indexes:
                assert f"USING INDEX {index} " in plan or f"USING COVERING INDEX {index} " in plan, (index, plan)
            assert "SCAN orders" not in plan and "SCAN parcel" not in plan, plan
