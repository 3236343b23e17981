"""The warehouses orderhub has seen: named by orders or only by a warehouse's own events, paged in code order,
each with the open cases the exceptions queue shows for it."""

from __future__ import annotations

from datetime import timedelta

from api.graphql.ids import decode_gid, encode_cursor
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, scan
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

WAREHOUSES = """query($first: Int!, $after: String) { warehouses(first: $first, after: $after) {
  nodes { code openExceptions } pageInfo { hasNextPage endCursor } } }"""
QUEUE = """query($filter: OrderExceptionFilter) { orderExceptions(first: 50, filter: $filter) {
  nodes { kind summary warehouseCode order { channelOrderId } } } }"""


async def _order(api: Api, creds: Credentials, cid: str, **extra: str | None) -> int:
    placed = utcnow() - timedelta(hours=1)
    given = order_input(cid, status="PAID", placedAt=placed.isoformat(), paidAt=placed.isoformat(), **extra)
    done = await api.gql(SUBMIT_ORDER, {"input": given}, headers=creds.writer)
    assert done["data"]["submitOrder"]["userErrors"] == [], done
    return decode_gid(done["data"]["submitOrder"]["order"]["id"], "Order")[1]


async def _seed(api: Api, creds: Credentials) -> None:
    """Shanghai: two orders, one open and one resolved case. Beijing: one order, one open case. Guangzhou: only a
    scan of an order orderhub does not know. Chengdu: a scan before any ship request of an order that named no
    warehouse. An order with no warehouse and one with an empty code name none."""
    sh1 = await _order(api, creds, "W-1", warehouseCode="WH-SH-01")
    sh2 = await _order(api, creds, "W-2", warehouseCode="WH-SH-01")
    bj = await _order(api, creds, "W-3", warehouseCode="WH-BJ-02")
    await _order(api, creds, "W-4", warehouseCode=None)
    await _order(api, creds, "W-5", warehouseCode="")
    await _order(api, creds, "W-6", warehouseCode=None)
    now = utcnow()
    async with api.runtime.core.sessions() as session, session.begin():
        for order, state, summary in ((sh1, "OPEN", "sh open"), (sh2, "RESOLVED", "sh done"), (bj, "OPEN", "bj")):
            session.add(OrderException(kind="WAREHOUSE_EXCEPTION", state=state, summary=summary, order_id=order,
                                       opened_at=now - timedelta(hours=2), details={}))  # fmt: skip
    for event, code, warehouse in (("GZ-1", "NO-SUCH-ORDER", "WH-GZ-03"), ("CD-1", "W-6", "WH-CD-05")):
        sent = await api.gql(WAREHOUSE, {"input": scan("PICKED", now, event, code=code, warehouseCode=warehouse)},
                             headers=creds.wms_only)  # fmt: skip
        assert sent["data"]["recordWarehouseEvent"]["outcome"] == "HELD", sent


async def test_warehouses_seen_with_their_open_cases(api: Api, creds: Credentials) -> None:
    await _seed(api, creds)

    first = await api.gql(WAREHOUSES, {"first": 3}, headers=creds.cs)
    assert "errors" not in first, first
    page = first["data"]["warehouses"]
    assert page["nodes"] == [
        {"code": "WH-BJ-02", "openExceptions": 1},
        {"code": "WH-CD-05", "openExceptions": 1},
        {"code": "WH-GZ-03", "openExceptions": 1},
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await api.gql(WAREHOUSES, {"first": 3, "after": page["pageInfo"]["endCursor"]}, headers=creds.cs)
    assert rest["data"]["warehouses"]["nodes"] == [{"code": "WH-SH-01", "openExceptions": 1}]
    assert rest["data"]["warehouses"]["pageInfo"]["hasNextPage"] is False

    # Each count is what the queue's filter shows for that warehouse, and each case says its warehouse.
    for shown in (*page["nodes"], *rest["data"]["warehouses"]["nodes"]):
        code = shown["code"]
        found = await api.gql(QUEUE, {"filter": {"states": ["OPEN"], "warehouseCode": code}}, headers=creds.cs)
        nodes = found["data"]["orderExceptions"]["nodes"]
        assert [n["warehouseCode"] for n in nodes] == [code] * shown["openExceptions"], (code, nodes)
    [unknown] = (await api.gql(QUEUE, {"filter": {"warehouseCode": "WH-GZ-03"}}, headers=creds.cs))["data"][
        "orderExceptions"
    ]["nodes"]
    assert (unknown["kind"], unknown["order"]) == ("UNKNOWN_ORDER", None)
    [early] = (await api.gql(QUEUE, {"filter": {"warehouseCode": "WH-CD-05"}}, headers=creds.cs))["data"][
        "orderExceptions"
    ]["nodes"]
    assert (early["kind"], early["order"]) == ("SCAN_BEFORE_REQUEST", {"channelOrderId": "W-6"})
    everything = await api.gql(QUEUE, {"filter": {"warehouseCode": "WH-SH-01"}}, headers=creds.cs)
    assert sorted(n["summary"] for n in everything["data"]["orderExceptions"]["nodes"]) == ["sh done", "sh open"]


async def test_warehouses_are_for_staff(api: Api, creds: Credentials) -> None:
    await _order(api, creds, "W-1", warehouseCode="WH-SH-01")
    for headers in (creds.writer, creds.wms_only):
        refused = await api.gql(WAREHOUSES, {"first": 10}, headers=headers)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    bad = await api.gql(WAREHOUSES, {"first": 10, "after": "bm90LWEtY3Vyc29y"}, headers=creds.admin)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", bad
    empty_page = await api.gql(
        WAREHOUSES, {"first": 10, "after": encode_cursor("warehouse", "WH-SH-01")}, headers=creds.admin
    )
    assert empty_page["data"]["warehouses"]["nodes"] == []
