"""Two-track status end to end over GraphQL: a click records a request, only physical evidence ships."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import col

from domain.clock import utcnow
from domain.fulfilment.models import FulfilmentEvidence
from domain.intake.models import InboundMessage, Outcome
from domain.intake.service import read_body
from domain.orders.models import OrderEvent
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import (
    CARRIER,
    TIMELINE,
    WAREHOUSE,
    callers,
    carrier_event,
    confirmation,
    exceptions,
    outbox_rows,
    paid_order,
    request_ship,
    scan,
)


def english(creds: Credentials) -> dict[str, str]:
    return {**creds.admin, "Accept-Language": "en"}


async def test_click_then_scans_then_outbound_then_signed(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    requested = await request_ship(api, who, order["id"], now - timedelta(hours=3))
    assert requested["userErrors"] == []
    assert requested["order"]["status"] == "SHIP_REQUESTED"
    assert requested["order"]["shippedAt"] is None
    assert await outbox_rows(api, "notify_customer_shipped") == []

    picked = await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=2, minutes=50), "S-1")},
                           headers=creds.wms_only)  # fmt: skip
    assert picked["data"]["recordWarehouseEvent"]["order"]["status"] == "PICKED"
    packed = await api.gql(WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=2, minutes=30), "S-2")},
                           headers=creds.wms_only)  # fmt: skip
    after_pack = packed["data"]["recordWarehouseEvent"]["order"]
    assert after_pack["status"] == "PACKED"
    assert after_pack["currentOperator"] == "Li Lei (E1024)"

    outbound_at = now - timedelta(hours=2)
    shipped = await api.gql(WAREHOUSE, {"input": confirmation(outbound_at, "DO-CONFIRM-1")}, headers=creds.wms_only)
    payload = shipped["data"]["recordWarehouseEvent"]
    assert payload["outcome"] == "APPLIED"
    assert payload["order"]["status"] == "SHIPPED"
    assert payload["order"]["shippedAt"].startswith(outbound_at.isoformat()[:19])
    assert payload["order"]["trackingNumber"] == "SF1402938475612"
    assert payload["order"]["carrierCode"] == "SF"
    [notify] = await outbox_rows(api, "notify_customer_shipped")
    assert notify.payload["order_id"] == int(order["id"].rsplit("/", 1)[1])

    pickup = await api.gql(CARRIER, {"input": carrier_event("PICKED_UP", now - timedelta(hours=1), "C-1")},
                           headers=who.carrier)  # fmt: skip
    assert pickup["data"]["recordCarrierEvent"]["outcome"] == "NOTED"
    signed = await api.gql(CARRIER, {"input": carrier_event("DELIVERED", now - timedelta(minutes=10), "C-2")},
                           headers=who.carrier)  # fmt: skip
    assert signed["data"]["recordCarrierEvent"]["order"]["status"] == "DELIVERED"
    assert len(await outbox_rows(api, "notify_customer_shipped")) == 1
    envelopes = [r.payload for r in await outbox_rows(api, "orders")]
    moves = [e for e in envelopes if e["event_type"] != "FULFILMENT_EVIDENCE"]
    assert [e["status"] for e in moves if e["status"] in {"PACKED", "SHIPPED", "DELIVERED"}] == [
        "PACKED", "SHIPPED", "DELIVERED"
    ]  # fmt: skip
    assert {"event_id", "order_id", "version", "status", "buyer_uid", "issued_at", "warehouse_code",
            "predicted_next_at"} <= set(envelopes[-1])  # fmt: skip
    versions = [e["version"] for e in envelopes]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    view = (await api.gql(TIMELINE, {"id": order["id"]}, headers=english(creds)))["data"]["order"]
    flow = [step["label"] for step in view["timeline"]["flow"]]
    assert flow == ["order placed", "paid", "ship request", "picked", "packed", "outbound", "signed"]
    log = [e["node"] for e in view["timeline"]["systemLog"]["edges"]]
    assert any(e["type"] == "FULFILMENT_EVIDENCE" and e["source"] == "CARRIER" for e in log)
    assert [s["label"] for s in view["backtrack"]["stages"]][2:4] == ["ship request -> picked", "picked -> packed"]
    assert view["backtrack"]["stages"][2]["duration"]["seconds"] == 600
    assert view["backtrack"]["blockingPoint"]["status"] == "DELIVERED"


async def test_stuck_order_backtrack_names_the_station(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=5))
    await api.gql(WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=4), "S-9")}, headers=creds.wms_only)
    view = (await api.gql(TIMELINE, {"id": order["id"]}, headers=english(creds)))["data"]["order"]
    blocking = view["backtrack"]["blockingPoint"]
    assert blocking["waitingFor"] == "outbound"
    assert blocking["station"] == "packing station B"
    assert blocking["summary"].startswith("packed -> outbound: 4 h ")
    assert "at packing station B (P, WH-SH-01), operator Li Lei (E1024)" in blocking["summary"]


async def test_event_id_resend_is_a_no_op(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=3))
    first = await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=2), "S-1")}, headers=creds.wms_only)
    again = await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=2), "S-1")}, headers=creds.wms_only)
    assert first["data"]["recordWarehouseEvent"]["repeated"] is False
    assert again["data"]["recordWarehouseEvent"]["repeated"] is True
    assert (
        again["data"]["recordWarehouseEvent"]["order"]["version"]
        == first["data"]["recordWarehouseEvent"]["order"]["version"]
    )
    async with api.runtime.core.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(FulfilmentEvidence))).scalar_one()
    assert stored == 1
    assert await exceptions(api) == []
    dedup = confirmation(now - timedelta(hours=1), "DO-1")
    await api.gql(WAREHOUSE, {"input": dedup}, headers=creds.wms_only)
    repeat = await api.gql(WAREHOUSE, {"input": dedup}, headers=creds.wms_only)
    assert repeat["data"]["recordWarehouseEvent"]["repeated"] is True
    assert len(await outbox_rows(api, "notify_customer_shipped")) == 1


async def test_outbound_too_soon_is_held_and_ops_may_accept_it(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(minutes=30))
    held = await api.gql(
        WAREHOUSE, {"input": confirmation(now - timedelta(minutes=28), "DO-2")}, headers=creds.wms_only
    )
    payload = held["data"]["recordWarehouseEvent"]
    assert payload["outcome"] == "HELD"
    assert payload["order"]["status"] == "SHIP_REQUESTED"
    assert payload["order"]["shippedAt"] is None
    [case] = payload["exceptions"]
    assert case["kind"] == "SUSPICIOUS_OUTBOUND"
    assert case["details"]["reason"] == "TOO_SOON"
    assert await outbox_rows(api, "notify_customer_shipped") == []

    by_cs = await api.gql(
        """mutation($input: ResolveExceptionInput!) { resolveException(input: $input) {
           exception { id } userErrors { field code } } }""",
        {"input": {"exceptionId": case["id"], "resolution": "looks fine", "acceptHeldEvidence": True}},
        headers=creds.cs,
    )
    assert by_cs["data"]["resolveException"]["userErrors"] == [
        {"field": ["input", "acceptHeldEvidence"], "code": "NOT_ALLOWED"}
    ]
    by_ops = await api.gql(
        """mutation($input: ResolveExceptionInput!) { resolveException(input: $input) {
           exception { state resolver order { status shippedAt } } userErrors { field code } } }""",
        {"input": {"exceptionId": case["id"], "resolution": "express lane order", "acceptHeldEvidence": True}},
        headers=who.ops,
    )
    resolved = by_ops["data"]["resolveException"]["exception"]
    assert resolved["state"] == "RESOLVED"
    assert resolved["order"]["status"] == "SHIPPED"
    assert resolved["order"]["shippedAt"].startswith((now - timedelta(minutes=28)).isoformat()[:19])
    assert len(await outbox_rows(api, "notify_customer_shipped")) == 1
    states = [r.payload["state"] for r in await outbox_rows(api, "exceptions")]
    assert states == ["OPEN", "RESOLVED"]


async def test_physical_evidence_without_a_request_or_before_it_is_held(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    now = utcnow()
    early = await paid_order(api, creds, "A-1")
    prescan = await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=1), "S-1", "A-1")},
                            headers=creds.wms_only)  # fmt: skip
    assert prescan["data"]["recordWarehouseEvent"]["exceptions"][0]["kind"] == "SCAN_BEFORE_REQUEST"
    unrequested = await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(minutes=50), "D-1", "A-1")},
                                headers=creds.wms_only)  # fmt: skip
    [case] = unrequested["data"]["recordWarehouseEvent"]["exceptions"]
    assert (case["kind"], case["details"]["reason"]) == ("SUSPICIOUS_OUTBOUND", "NO_SHIP_REQUEST")
    assert unrequested["data"]["recordWarehouseEvent"]["order"]["status"] == "PAID"

    await request_ship(api, who, early["id"], now - timedelta(minutes=30))
    before = await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(minutes=40), "D-2", "A-1")},
                           headers=creds.wms_only)  # fmt: skip
    [case] = before["data"]["recordWarehouseEvent"]["exceptions"]
    assert case["details"]["reason"] == "BEFORE_REQUEST"
    no_time = await api.gql(WAREHOUSE, {"input": confirmation(None, "D-3", "A-1")}, headers=creds.wms_only)
    assert no_time["data"]["recordWarehouseEvent"]["exceptions"][0]["details"]["reason"] == "NO_OUTBOUND_TIME"
    assert no_time["data"]["recordWarehouseEvent"]["order"]["status"] == "SHIP_REQUESTED"
    assert await outbox_rows(api, "notify_customer_shipped") == []


async def test_shipped_without_tracking_ships_and_opens_a_case(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=2))
    body = confirmation(now - timedelta(hours=1), "DO-9", expressCode=None, logisticsCode=None, packages=[])
    result = (await api.gql(WAREHOUSE, {"input": body}, headers=creds.wms_only))["data"]["recordWarehouseEvent"]
    assert result["order"]["status"] == "SHIPPED"
    assert [c["kind"] for c in result["exceptions"]] == ["SHIPPED_WITHOUT_TRACKING"]


async def test_staff_and_customers_cannot_write_physical_evidence(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    body = {"input": confirmation(now, "DO-X")}
    for headers in (creds.admin, who.ops, creds.customer(api.runtime, "a" * 64), creds.writer, who.carrier):
        refused = await api.gql(WAREHOUSE, body, headers=headers)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    signed = await api.gql(CARRIER, {"input": carrier_event("DELIVERED", now, "C-X")}, headers=creds.wms_only)
    assert signed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    by_cs = await api.gql(
        "mutation($i: RequestShipmentInput!) { requestShipment(input: $i) { userErrors { code } } }",
        {"i": {"orderId": order["id"]}},
        headers=creds.cs,
    )
    assert by_cs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with api.runtime.core.sessions() as session:
        events = list((await session.exec(select(OrderEvent).order_by(col(OrderEvent.version)))).scalars())
    assert [e.status for e in events] == ["PENDING_PAYMENT", "PAID"]


async def test_bad_input_gets_field_errors_and_the_raw_message_is_kept(api: Api, creds: Credentials) -> None:
    await paid_order(api, creds)
    cases = [
        (scan("FLOATED", utcnow(), "S-1"), ["input", "scan", "scanType"], "INVALID_VALUE"),
        (scan("PICKED", utcnow().replace(tzinfo=None), "S-2"), ["input", "scan", "scannedAt"], "INVALID_TIME"),
        (confirmation(utcnow(), "", status="SHIPPED"), ["input", "confirmation", "outBizCode"], "REQUIRED"),
        ({}, ["input", "confirmation"], "ONE_OF"),
    ]
    for body, path, code in cases:
        result = (await api.gql(WAREHOUSE, {"input": body}, headers=creds.wms_only))["data"]["recordWarehouseEvent"]
        assert path in [e["field"] for e in result["userErrors"]], result
        assert code in [e["code"] for e in result["userErrors"]]
        assert result["outcome"] is None
    both = confirmation(utcnow(), "", status="SHIPPED")
    errors = (await api.gql(WAREHOUSE, {"input": both}, headers=creds.wms_only))["data"]["recordWarehouseEvent"]
    assert {e["code"] for e in errors["userErrors"]} == {"REQUIRED", "INVALID_VALUE"}
    async with api.runtime.core.sessions() as session:
        kept = list(
            (await session.exec(select(InboundMessage).where(col(InboundMessage.source) == "partner:wms"))).scalars()
        )
        assert len(kept) == 5
        assert {m.outcome for m in kept} == {Outcome.REJECTED}
        raw = await read_body(session, api.runtime.core.vault, kept[0].id or 0)
    assert b"FLOATED" in raw
    async with api.runtime.core.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(FulfilmentEvidence))).scalar_one()
    assert stored == 0


async def test_unknown_cancelled_out_of_order_duplicate_and_skewed_events_open_cases(
    api: Api, creds: Credentials
) -> None:
    who = await callers(api)
    now = utcnow()
    live = await paid_order(api, creds, "B-1")
    await api.gql(
        "mutation($i: OrderInput!) { submitOrder(input: $i) { userErrors { code } } }",
        {"i": {**_order("B-2"), "status": "CANCELLED", "cancelledAt": (now - timedelta(hours=1)).isoformat()}},
        headers=creds.writer,
    )
    await request_ship(api, who, live["id"], now - timedelta(hours=3))

    async def send(query: str, body: dict[str, object], headers: dict[str, str]) -> dict[str, object]:
        data = (await api.gql(query, {"input": body}, headers=headers))["data"]
        payload: dict[str, object] = next(iter(data.values()))
        return payload

    unknown = await send(WAREHOUSE, scan("PICKED", now, "S-0", "NO-SUCH-ORDER"), creds.wms_only)
    cancelled = await send(WAREHOUSE, scan("PICKED", now, "S-1", "B-2"), creds.wms_only)
    await send(WAREHOUSE, scan("PICKED", now - timedelta(hours=2), "S-2", "B-1"), creds.wms_only)
    duplicate = await send(WAREHOUSE, scan("PICKED", now - timedelta(hours=2), "S-3", "B-1"), creds.wms_only)
    skewed = await send(WAREHOUSE, scan("PACKED", now + timedelta(hours=2), "S-4", "B-1"), creds.wms_only)
    early_signed = await send(CARRIER, carrier_event("DELIVERED", now, "C-1", "B-1-TRACK"), who.carrier)
    assert early_signed["exceptions"][0]["kind"] == "UNKNOWN_ORDER"  # no order carries that tracking number yet
    await send(
        WAREHOUSE, confirmation(now - timedelta(hours=1), "DO-1", "B-1", expressCode="B-1-TRACK"), creds.wms_only
    )
    out_of_order = await send(
        CARRIER, carrier_event("DELIVERED", now - timedelta(hours=2), "C-2", "B-1-TRACK"), who.carrier
    )
    assert out_of_order["outcome"] == "APPLIED"  # after the outbound, a signature is normal

    kinds = {
        "unknown": unknown["exceptions"][0]["kind"],
        "cancelled": cancelled["exceptions"][0]["kind"],
        "duplicate": duplicate["exceptions"][0]["kind"],
        "skewed": skewed["exceptions"][0]["kind"],
    }
    assert kinds == {
        "unknown": "UNKNOWN_ORDER",
        "cancelled": "EVENT_FOR_CANCELLED_ORDER",
        "duplicate": "DUPLICATE_SCAN",
        "skewed": "CLOCK_SKEW",
    }
    assert unknown["order"] is None and unknown["exceptions"][0]["order"] is None
    async with api.runtime.core.sessions() as session:
        query = select(FulfilmentEvidence).where(col(FulfilmentEvidence.order_reference) == "NO-SUCH-ORDER")
        kept = (await session.execute(query)).scalar_one()
        raw = await read_body(session, api.runtime.core.vault, kept.inbound_message_id or 0)
    assert kept.outcome == "HELD" and kept.order_id is None
    assert b"NO-SUCH-ORDER" in raw
    assert duplicate["order"]["status"] == "PICKED"
    assert skewed["order"]["status"] == "PICKED"
    assert {c.kind for c in await exceptions(api)} >= set(kinds.values())


async def test_delivered_before_shipped_is_an_exception(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=3))
    waybill = scan("PACKED", now - timedelta(hours=2), "S-1", expressCode="SF-PRINTED-AT-PACKING")
    await api.gql(WAREHOUSE, {"input": waybill}, headers=creds.wms_only)
    early = carrier_event("DELIVERED", now - timedelta(hours=1), "C-1", "SF-PRINTED-AT-PACKING")
    result = (await api.gql(CARRIER, {"input": early}, headers=who.carrier))["data"]["recordCarrierEvent"]
    assert result["outcome"] == "HELD"
    assert result["exceptions"][0]["kind"] == "OUT_OF_ORDER_EVENT"
    assert result["order"]["status"] == "PACKED"
    assert result["order"]["deliveredAt"] is None


def _order(channel_order_id: str) -> dict[str, object]:
    from tests.integration.orders_fixtures import order_input

    return order_input(channel_order_id)


async def test_the_same_event_sent_twice_at_once_applies_once(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=2))
    body = {"input": confirmation(now - timedelta(hours=1), "DO-RACE")}
    results = await asyncio.gather(*(api.gql(WAREHOUSE, body, headers=creds.wms_only) for _ in range(2)))
    repeated = sorted(r["data"]["recordWarehouseEvent"]["repeated"] for r in results)
    assert repeated == [False, True]
    assert len(await outbox_rows(api, "notify_customer_shipped")) == 1
