"""node(id:) answers every Node type to whoever may see it where it is listed, and null to anyone else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import GraphQLObjectType
from sqlmodel import SQLModel, col, select

from api.graphql.ids import encode_gid
from api.graphql.schema import NODES, build_schema
from domain.channels.models import DriftAlert
from domain.clock import utcnow
from domain.identity.models import MatchSuggestion
from domain.intake.models import InboundMessage
from domain.ledger.models import FundVoucher, OrderAdjustment, VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.orders.models import OrderEvent
from domain.outbox.service import Outbox
from domain.reconcile import service
from domain.reconcile.models import ReconItem, ReconRun, Statement
from domain.shops.models import Shop
from sim.statements import BillRow, wechat_trade_bill
from tests.conftest import Api, Credentials
from tests.fixtures.channels import payload
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.test_money_graphql import finance

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
NODE = """query($id: ID!) { node(id: $id) { __typename id } }"""
SUBMIT_CHANNEL = """mutation($input: SubmitChannelOrderInput!) { submitChannelOrder(input: $input) {
  userErrors { code } } }"""


async def _world(api: Api, creds: Credentials) -> dict[str, dict[str, str]]:
    """One of each Node type, and the callers: staff of each role, a partner, the order's customer."""
    submitted = await api.gql(SUBMIT_ORDER, {"input": order_input("T1")}, headers=creds.writer)
    order = submitted["data"]["submitOrder"]["order"]
    text = json.dumps(payload("TAOBAO"), ensure_ascii=False)
    sent = await api.gql(SUBMIT_CHANNEL, {"input": {"channel": "TAOBAO", "payload": text}}, headers=creds.writer)
    assert sent["data"]["submitChannelOrder"]["userErrors"] == []
    order_key = int(order["id"].rsplit("/", 1)[1])
    async with api.runtime.core.sessions() as session, session.begin():
        for txn, ref in (("W1", "T1"), ("W2", "T1"), ("W9", "NO-SUCH-ORDER")):
            item = PaymentNotice("wechatpay", txn, VoucherKind.PAYMENT, ref, 9590, "CNY", VoucherStatus.CONFIRMED, DAY)
            await post_notice(session, item, outbox=Outbox(), received_at=DAY + timedelta(seconds=30))
        data = wechat_trade_bill([BillRow(DAY, "W1", "T1", "PAYMENT", 9590)])
        parsed = service.parse_statement("wx.csv", data)
        imported = await service.import_statement(session, "wx.csv", data, parsed, "finance@shop.example")
        await service.reconcile(session, [imported.statement_id], trigger="test")
        now = utcnow()
        session.add(DriftAlert(channel="TAOBAO", kind="taobao.trade", path="trade.x", change="NEW_FIELD",
                               detail="", example="1", first_seen=now, last_seen=now))  # fmt: skip
        session.add(MatchSuggestion(order_id=order_key, candidate_uid="u", evidence_order_id=order_key, created_at=now))
        session.add(Shop(channel="TAOBAO", code="orderhub旗舰店", name="flagship", created_at=now))
    return {
        "who": {
            "finance": await finance(api), "cs": creds.cs, "admin": creds.admin, "reader": creds.reader,
            "customer": creds.customer(api.runtime, order["buyerUid"]),
        },
        "order": order,
    }  # fmt: skip


async def _first_id(api: Api, model: type[SQLModel], *where: Any) -> int:
    async with api.runtime.core.sessions() as session:
        key = (await session.exec(select(model.id).where(*where).order_by(model.id))).first()  # type: ignore[attr-defined]
    assert key is not None
    return int(key)


@pytest.mark.parametrize(
    ("type_name", "model", "where", "allowed", "denied"),
    [
        ("OrderEvent", OrderEvent, (), "cs", "customer"),  # the customer follows the journey, not the log
        ("DriftAlert", DriftAlert, (), "cs", "reader"),
        ("InboundMessage", InboundMessage, (InboundMessage.source == "TAOBAO",), "cs", "reader"),
        ("MatchSuggestion", MatchSuggestion, (), "cs", "reader"),
        ("FundVoucher", FundVoucher, (col(FundVoucher.order_id).is_not(None),), "cs", "reader"),
        ("FundVoucher", FundVoucher, (col(FundVoucher.order_id).is_(None),), "finance", "cs"),  # in suspense
        ("OrderAdjustment", OrderAdjustment, (), "cs", "reader"),
        ("Statement", Statement, (), "finance", "cs"),
        ("ReconRun", ReconRun, (), "finance", "cs"),
        ("ReconItem", ReconItem, (), "finance", "cs"),
        ("Shop", Shop, (), "admin", "cs"),
    ],
)
async def test_node_answers_an_allowed_viewer_and_null_to_others(
    api: Api, creds: Credentials, type_name: str, model: type[SQLModel], where: tuple[Any, ...], allowed: str,
    denied: str,
) -> None:  # fmt: skip
    world = await _world(api, creds)
    gid = encode_gid(type_name, await _first_id(api, model, *where))
    found = await api.gql(NODE, {"id": gid}, headers=world["who"][allowed])
    assert found["data"]["node"] == {"__typename": type_name, "id": gid}
    hidden = await api.gql(NODE, {"id": gid}, headers=world["who"][denied])
    assert "errors" not in hidden and hidden["data"]["node"] is None


async def test_a_recorded_request_that_is_not_a_channel_payload_stays_hidden(api: Api, creds: Credentials) -> None:
    world = await _world(api, creds)
    key = await _first_id(api, InboundMessage, InboundMessage.kind == "graphql")
    hidden = await api.gql(NODE, {"id": encode_gid("InboundMessage", key)}, headers=world["who"]["cs"])
    assert hidden["data"]["node"] is None


def test_every_node_type_has_a_lookup() -> None:
    types = build_schema()._schema.type_map.values()
    nodes = {t.name for t in types if isinstance(t, GraphQLObjectType) and "Node" in [i.name for i in t.interfaces]}
    assert nodes == set(NODES)
