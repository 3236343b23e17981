"""SQLite is not a weaker database: concurrent writes of one order and bad inputs end the same on both."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from domain.access.service import issue_partner_key
from domain.fulfilment.models import FulfilmentEvidence
from domain.orders.models import Order, OrderEvent
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import CARRIER, WAREHOUSE, carrier_event, scan
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

REQUEST = """mutation($input: RequestShipmentInput!) { requestShipment(input: $input) {
  userErrors { field code } } }"""
WITHDRAW = """mutation($input: WithdrawShipmentRequestInput!) { withdrawShipmentRequest(input: $input) {
  userErrors { field code } } }"""
PAID = {"status": "PAID", "paidAt": "2026-11-24T20:16:00+08:00"}


async def test_ten_concurrent_writes_of_one_order_all_answer_cleanly(api: Api, creds: Credentials) -> None:
    submitted = await api.gql(SUBMIT_ORDER, {"input": order_input(**PAID)}, headers=creds.writer)
    gid = submitted["data"]["submitOrder"]["order"]["id"]
    calls = [
        *(api.gql(REQUEST, {"input": {"orderId": gid}}, headers=creds.admin) for _ in range(4)),
        *(api.gql(WITHDRAW, {"input": {"orderId": gid, "reason": "wrong click"}}, headers=creds.admin)
          for _ in range(3)),
        *(api.gql(SUBMIT_ORDER, {"input": order_input(**PAID)}, headers=creds.writer) for _ in range(3)),
    ]  # fmt: skip
    answers: list[dict[str, Any]] = await asyncio.gather(*calls)
    assert [a.get("errors") for a in answers] == [None] * 10
    codes = {e["code"] for a in answers for payload in a["data"].values() for e in payload["userErrors"]}
    assert codes <= {"ILLEGAL_TRANSITION"}  # a withdrawal that came before any request, nothing else
    async with api.runtime.core.sessions() as session:
        order = (await session.execute(select(Order))).scalar_one()
        events = (await session.execute(select(func.count()).select_from(OrderEvent))).scalar_one()
    assert order.version == events  # every change one event at the next version, none lost


BAD_INPUTS: list[tuple[dict[str, Any], list[str], str]] = [
    ({"lines": [{"sku": "A", "title": "tea\x00", "quantity": 1, "unitPrice": "95.90"}]},
     ["input", "lines", "0", "title"], "INVALID_CHARACTER"),
    ({"lines": [{"sku": "A" * 1_000_000, "quantity": 1, "unitPrice": "95.90"}]},
     ["input", "lines", "0", "sku"], "TOO_LONG"),
    ({"channelOrderId": "4102938475610293847\x00"}, ["input", "channelOrderId"], "INVALID_CHARACTER"),
    ({"warehouseCode": "W" * 41}, ["input", "warehouseCode"], "TOO_LONG"),
    ({"buyer": {"platformBuyerId": "b" * 201}}, ["input", "buyer", "platformBuyerId"], "TOO_LONG"),
    ({"attribution": {"landingUrl": "https://shop.example/?" + "x" * 500}},
     ["input", "attribution", "landingUrl"], "TOO_LONG"),
    ({"placedAt": "9999-12-31T23:59:59+08:00"}, ["input", "placedAt"], "INVALID_TIME"),
    ({"placedAt": "9999-12-31T23:59:59-08:00"}, ["input", "placedAt"], "INVALID_TIME"),
    ({"placedAt": "1970-01-01T00:00:00Z"}, ["input", "placedAt"], "INVALID_TIME"),
    ({**PAID, "paidAt": "2026-11-24T20:15:02+08:00"}, ["input", "paidAt"], "INVALID_TIME"),
]  # fmt: skip


async def test_the_same_bad_input_is_refused_alike_on_both_databases(api: Api, creds: Credentials) -> None:
    for overrides, field, code in BAD_INPUTS:
        extra = {"totalAmount": None, "discountAmount": "0"} if "lines" in overrides else {}
        result = await api.gql(SUBMIT_ORDER, {"input": order_input(**{**extra, **overrides})}, headers=creds.writer)
        assert result.get("errors") is None, field
        payload = result["data"]["submitOrder"]
        assert (payload["order"], [(e["field"], e["code"]) for e in payload["userErrors"]]) == (None, [(field, code)])
    async with api.runtime.core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Order))).scalar_one() == 0


async def test_a_note_with_a_nul_character_is_refused_alike(api: Api, creds: Credentials) -> None:
    submitted = await api.gql(SUBMIT_ORDER, {"input": order_input(**PAID)}, headers=creds.writer)
    gid = submitted["data"]["submitOrder"]["order"]["id"]
    note = """mutation($input: RequestShipmentInput!) { requestShipment(input: $input) {
      order { status } userErrors { field code } } }"""
    result = await api.gql(note, {"input": {"orderId": gid, "note": "rush\x00"}}, headers=creds.admin)
    assert result["data"]["requestShipment"] == {
        "order": None, "userErrors": [{"field": ["input", "note"], "code": "INVALID_CHARACTER"}]
    }  # fmt: skip


async def test_a_read_never_waits_for_a_unit_of_work(rt: Runtime) -> None:
    """A unit of work (`session.begin()`) holds SQLite's write lock from its start; a session that only reads
    begins deferred, so reading while a unit is open (here in the same task) cannot wait for the lock."""
    async with rt.core.sessions() as writer, writer.begin():
        await writer.execute(text("UPDATE outbox SET id = id WHERE 1 = 0"))
        async with rt.core.sessions() as reader:
            count = await asyncio.wait_for(reader.execute(select(func.count()).select_from(Order)), 20)
    assert count.scalar_one() == 0


async def test_warehouse_and_carrier_text_is_held_to_its_columns(api: Api, creds: Credentials) -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    bad_scan = scan("PACKED", at, "S-1", zone="P\x00", station="s" * 61)
    answer = await api.gql(WAREHOUSE, {"input": bad_scan}, headers=creds.wms_only)
    assert [(e["field"], e["code"]) for e in answer["data"]["recordWarehouseEvent"]["userErrors"]] == [
        (["input", "scan", "zone"], "INVALID_CHARACTER"), (["input", "scan", "station"], "TOO_LONG"),
    ]  # fmt: skip
    carrier = await issue_carrier_key(api)
    signed = {**carrier_event("DELIVERED", at, "C-1"), "signer": "Wang\x00"}
    answer = await api.gql(CARRIER, {"input": signed}, headers=carrier)
    assert [(e["field"], e["code"]) for e in answer["data"]["recordCarrierEvent"]["userErrors"]] == [
        (["input", "signer"], "INVALID_CHARACTER")
    ]
    async with api.runtime.core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(FulfilmentEvidence))).scalar_one() == 0


async def issue_carrier_key(api: Api) -> dict[str, str]:
    async with api.runtime.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "sf-express", ["carrier:write"])
    return {"X-Api-Key": key.key}
