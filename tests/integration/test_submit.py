"""Partner order submission through GraphQL: applied once, idempotent, and recorded first."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from domain.intake.models import InboundMessage, Outcome
from domain.intake.service import read_body
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.outbox.models import OutboxMessage
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import ORDER, SUBMIT_ORDER, SUBMIT_ORDERS, order_input


async def count(api: Api, model: type) -> int:
    async with api.runtime.core.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def inbound(api: Api) -> list[InboundMessage]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).scalars())


async def test_submit_creates_order_lines_events_and_outbox(api: Api, creds: Credentials) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    payload = result["data"]["submitOrder"]
    assert payload["userErrors"] == []
    order = payload["order"]
    assert order["id"].startswith("gid://orderhub/Order/")
    assert order["status"] == "PENDING_PAYMENT"
    assert order["totalAmount"] == {"amount": "95.90", "currencyCode": "CNY"}
    assert order["itemsAmount"]["amount"] == "115.90"
    assert [line["unitPrice"]["amount"] for line in order["lines"]] == ["100.00", "15.90"]
    assert len(order["buyerUid"]) == 64
    assert result["extensions"]["cost"]["requestedQueryCost"] >= 1
    assert await count(api, OrderLine) == 2
    assert await count(api, OrderEvent) == 1
    async with api.runtime.core.sessions() as session:
        outbox = list((await session.exec(select(OutboxMessage))).scalars())
    assert {(row.kind, row.target) for row in outbox} == {
        ("PUBLISH", "orders"),
        ("JOB", "check_payment_deadline"),
        ("JOB", "group_pending_orders"),
    }
    [message] = await inbound(api)
    assert message.outcome == Outcome.APPLIED
    assert message.source == "partner:channel-bridge"
    async with api.runtime.core.sessions() as session:
        raw = await read_body(session, api.runtime.core.vault, message.id or 0)
    assert b"4102938475610293847" in raw
    assert b"1234 5678" not in message.body  # sealed at rest


async def test_repeat_is_idempotent_and_payment_advances(api: Api, creds: Credentials) -> None:
    first = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    again = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    assert first["data"]["submitOrder"]["order"]["id"] == again["data"]["submitOrder"]["order"]["id"]
    assert again["data"]["submitOrder"]["order"]["version"] == 1
    assert await count(api, Order) == 1
    assert await count(api, OrderEvent) == 1
    paid = order_input(status="PAID", paidAt="2026-11-24T20:16:40+08:00", rawStatus="WAIT_SELLER_SEND_GOODS")
    result = await api.gql(SUBMIT_ORDER, {"input": paid}, headers=creds.writer)
    order = result["data"]["submitOrder"]["order"]
    assert order["status"] == "PAID"
    assert order["version"] == 2
    stale = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    assert stale["data"]["submitOrder"]["order"]["status"] == "PAID"
    assert await count(api, OrderEvent) == 2


async def test_paid_order_amounts_are_final(api: Api, creds: Credentials) -> None:
    paid = order_input(status="PAID", paidAt="2026-11-24T20:16:40+08:00")
    await api.gql(SUBMIT_ORDER, {"input": paid}, headers=creds.writer)
    changed = dict(paid, discountAmount="10.00", totalAmount="105.90")
    result = await api.gql(SUBMIT_ORDER, {"input": changed}, headers=creds.writer)
    [error] = result["data"]["submitOrder"]["userErrors"]
    assert error["code"] == "ORDER_LOCKED"
    async with api.runtime.core.sessions() as session:
        stored = (await session.exec(select(Order))).scalars().one()
    assert stored.total_amount == 9590


async def test_batch_is_all_or_nothing(api: Api, creds: Credentials) -> None:
    good = [order_input(f"41029384756102938{i:02d}") for i in range(3)]
    bad = order_input("4102938475610293899", currencyCode="RMB")
    result = await api.gql(SUBMIT_ORDERS, {"input": {"orders": [*good, bad]}}, headers=creds.writer)
    payload = result["data"]["submitOrders"]
    assert payload["orders"] == []
    assert payload["userErrors"] == [
        {
            "field": ["input", "orders", "3", "currencyCode"],
            "message": "'RMB' is not an ISO 4217 currency code",
            "code": "INVALID_CURRENCY",
        }
    ]
    assert await count(api, Order) == 0
    result = await api.gql(SUBMIT_ORDERS, {"input": {"orders": good}}, headers=creds.writer)
    assert [o["status"] for o in result["data"]["submitOrders"]["orders"]] == ["PENDING_PAYMENT"] * 3
    assert await count(api, Order) == 3


async def test_duplicate_within_batch_is_refused(api: Api, creds: Credentials) -> None:
    twice = [order_input(), order_input()]
    result = await api.gql(SUBMIT_ORDERS, {"input": {"orders": twice}}, headers=creds.writer)
    [error] = result["data"]["submitOrders"]["userErrors"]
    assert error["code"] == "DUPLICATE_IN_BATCH"
    assert error["field"] == ["input", "orders", "1", "channelOrderId"]


async def test_order_query_and_global_id_type_check(api: Api, creds: Credentials) -> None:
    created = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    gid = created["data"]["submitOrder"]["order"]["id"]
    found = await api.gql(ORDER, {"id": gid}, headers=creds.reader)
    assert found["data"]["order"]["channelOrderId"] == "4102938475610293847"
    wrong_type = await api.gql(ORDER, {"id": gid.replace("/Order/", "/OrderEvent/")}, headers=creds.reader)
    assert wrong_type["errors"][0]["extensions"]["code"] == "INVALID_ID"
