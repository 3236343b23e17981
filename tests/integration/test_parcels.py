"""Orders that leave in several parcels from several warehouses, end to end over GraphQL, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.graphql.ids import decode_gid
from domain.clock import utcnow
from domain.fulfilment.exceptions import open_stuck_exceptions
from domain.fulfilment.tracking import open_missing_courier_records
from domain.orders.models import Order
from domain.outbox.service import Outbox
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import (
    CARRIER,
    TIMELINE,
    WAREHOUSE,
    Callers,
    callers,
    carrier_event,
    confirmation,
    paid_order,
    request_ship,
)

PARCELS = """query($id: ID!) { order(id: $id) { status trackingNumber
  parcels { warehouseCode carrierCode trackingNumber items { sku quantity } shippedAt deliveredAt } } }"""


def parcel_out(warehouse: str, dedup: str, tracking: str, sku: str, at: Any, **extra: Any) -> dict[str, Any]:
    package = {"logisticsCode": "SF", "expressCode": tracking, "weightGrams": 400,
               "items": [{"itemCode": sku, "quantity": 1}]}  # fmt: skip
    line = {"orderLineNo": "1", "itemCode": sku, "planQty": 1, "actualQty": 1}
    body = confirmation(at, dedup, warehouseCode=warehouse, expressCode=tracking, packages=[package],
                        orderLines=[line], **extra)  # fmt: skip
    return body


async def evidence(api: Api, creds: Credentials, document: str, payload: dict[str, Any], name: str) -> dict[str, Any]:
    result = await api.gql(document, {"input": payload}, headers=creds.wms_only)
    body: dict[str, Any] = result["data"][name]
    assert body["userErrors"] == [], body
    return body


async def requested(api: Api, creds: Credentials) -> tuple[str, Callers]:
    who = await callers(api)
    order = await paid_order(api, creds)
    await request_ship(api, who, order["id"], utcnow() - timedelta(hours=3))
    return str(order["id"]), who


async def test_two_warehouses_ship_one_order_in_two_parcels(api: Api, creds: Credentials) -> None:
    gid, who = await requested(api, creds)
    now = utcnow()
    first = parcel_out("WH-SH-01", "OB-SH-1", "SF100000001", "SKU-TEA-001", now - timedelta(hours=2))
    done = await evidence(api, creds, WAREHOUSE, first, "recordWarehouseEvent")
    assert done["order"]["status"] == "PARTIALLY_SHIPPED"
    assert done["order"]["shippedAt"] is None  # the order is not out until every line is
    second = parcel_out("WH-BJ-02", "OB-BJ-1", "SF200000002", "SKU-CUP-002", now - timedelta(hours=1))
    done = await evidence(api, creds, WAREHOUSE, second, "recordWarehouseEvent")
    assert done["order"]["status"] == "SHIPPED"

    view = (await api.gql(PARCELS, {"id": gid}, headers=who.ops))["data"]["order"]
    assert [(p["warehouseCode"], p["trackingNumber"], p["items"]) for p in view["parcels"]] == [
        ("WH-SH-01", "SF100000001", [{"sku": "SKU-TEA-001", "quantity": 1}]),
        ("WH-BJ-02", "SF200000002", [{"sku": "SKU-CUP-002", "quantity": 1}]),
    ]

    async with api.runtime.core.sessions() as session, session.begin():  # per parcel: only the older one is late
        assert await open_missing_courier_records(session, Outbox(), timedelta(minutes=90), utcnow()) == 1

    # The first parcel's number is no longer the order's: the carrier still finds the order by its parcel.
    delivered = carrier_event("DELIVERED", now - timedelta(minutes=30), "C-1", tracking="SF100000001")
    done = await api.gql(CARRIER, {"input": delivered}, headers=who.carrier)
    body = done["data"]["recordCarrierEvent"]
    assert (body["outcome"], body["order"]["status"]) == ("NOTED", "SHIPPED"), body
    delivered = carrier_event("DELIVERED", now - timedelta(minutes=10), "C-2", tracking="SF200000002")
    body = (await api.gql(CARRIER, {"input": delivered}, headers=who.carrier))["data"]["recordCarrierEvent"]
    assert (body["outcome"], body["order"]["status"]) == ("APPLIED", "DELIVERED"), body

    view = (await api.gql(PARCELS, {"id": gid}, headers=who.ops))["data"]["order"]
    assert all(p["deliveredAt"] for p in view["parcels"])
    timeline = (await api.gql(TIMELINE, {"id": gid}, headers={**who.ops, "Accept-Language": "en"}))["data"]["order"]
    flow = [step["status"] for step in timeline["timeline"]["flow"]]
    assert flow[-3:] == ["PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED"]
    stages = [s["label"] for s in timeline["backtrack"]["stages"]]
    assert "ship request -> partly outbound" in stages and "partly outbound -> outbound" in stages
    async with api.runtime.core.sessions() as session:
        order = await session.get(Order, decode_gid(gid, "Order")[1])
    assert order is not None and order.status_changes == order.min_status_changes  # several parcels is no drift


async def test_an_intermediate_confirmation_waits_for_the_final_one(api: Api, creds: Credentials) -> None:
    gid, who = await requested(api, creds)
    now = utcnow()
    partial = confirmation(now - timedelta(hours=2), "OB-P1", confirmType="INTERMEDIATE", status="PARTDELIVERED",
                           packages=[], orderLines=[])  # fmt: skip
    done = await evidence(api, creds, WAREHOUSE, partial, "recordWarehouseEvent")
    assert done["order"]["status"] == "PARTIALLY_SHIPPED"
    async with api.runtime.core.sessions() as session, session.begin():  # goods still to go 3 h after the click
        assert await open_stuck_exceptions(session, Outbox(), timedelta(hours=2), utcnow()) == 1
    final = confirmation(now - timedelta(hours=1), "OB-P2", packages=[], orderLines=[], expressCode="SF300000003")
    done = await evidence(api, creds, WAREHOUSE, final, "recordWarehouseEvent")
    assert done["order"]["status"] == "SHIPPED"
    view = (await api.gql(PARCELS, {"id": gid}, headers=who.ops))["data"]["order"]
    assert [p["trackingNumber"] for p in view["parcels"]] == ["SF1402938475612", "SF300000003"]


async def test_a_final_confirmation_in_the_warehouse_s_own_item_codes_ships(api: Api, creds: Credentials) -> None:
    """Items the order's SKUs do not name cannot be counted: the warehouse's FINAL word decides, as before."""
    await requested(api, creds)
    final = parcel_out("WH-SH-01", "OB-X", "SF400000004", "WMS-ITEM-77", utcnow() - timedelta(hours=1))
    done = await evidence(api, creds, WAREHOUSE, final, "recordWarehouseEvent")
    assert done["order"]["status"] == "SHIPPED"
