"""Replaying recorded channel traffic: a dry run shows the diff and changes nothing; applying is idempotent."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from sqlalchemy import func, select

from api.graphql.ids import encode_gid
from domain.channels.models import ChannelIntake
from domain.identity.models import BuyerChannel
from domain.ledger.models import FundVoucher, OrderAdjustment, VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.orders.models import Order, OrderEvent, OrderSupersession
from domain.outbox.service import Outbox
from tests.conftest import Api, Credentials
from tests.fixtures.channels import order_object, payload
from tests.integration.test_channel_intake import SAVE_RULES, submit

REPLAY = """
mutation($input: ReplayInput!) { replayChannelMessages(input: $input) {
  messages { channelOrderId ruleVersion diff applied error stored wouldBe }
  userErrors { field code } } }"""
MESSAGES = """query($c: SalesChannel!) { inboundMessages(channel: $c, first: 10, outcome: "APPLIED") {
  nodes { source kind outcome } } }"""
WINDOW = {"receivedFrom": "2000-01-01T00:00:00Z", "receivedTo": "2100-01-01T00:00:00Z"}


async def order_ids(api: Api) -> list[str]:
    async with api.runtime.core.sessions() as session:
        return sorted((await session.execute(select(Order.channel_order_id))).scalars())


async def test_replay_dry_run_diff_then_apply_idempotently(api: Api, creds: Credentials) -> None:
    data = payload("AMAZON")
    order_object("AMAZON", data).update(order_id_suffix="ERR")
    await submit(api, creds, "AMAZON", data)
    await submit(api, creds, "AMAZON", "not json")
    assert await order_ids(api) == ["902-3159896-1390916-ERR"]
    rule = {"op": "drop_if_equals", "path": "order.order_id_suffix", "value": "ERR"}
    await api.gql(SAVE_RULES, {"input": {"channel": "AMAZON", "rules": [rule]}}, headers=creds.admin)

    listed = await api.gql(MESSAGES, {"c": "AMAZON"}, headers=creds.cs)
    assert listed["data"]["inboundMessages"]["nodes"] == [{"source": "AMAZON", "kind": "amazon.order",
                                                           "outcome": "APPLIED"}]  # fmt: skip

    dry = await api.gql(REPLAY, {"input": {"channel": "AMAZON", **WINDOW}}, headers=creds.admin)
    good, bad = dry["data"]["replayChannelMessages"]["messages"]
    assert good["diff"] == {"channelOrderId": ["902-3159896-1390916-ERR", "902-3159896-1390916"]}
    assert (good["ruleVersion"], good["applied"]) == (1, False)
    assert bad["error"] and "NOT_JSON" in bad["error"]
    chinese = await api.gql(REPLAY, {"input": {"channel": "AMAZON", **WINDOW}},
                            headers={**creds.admin, "Accept-Language": "zh-CN"})  # fmt: skip
    in_chinese = chinese["data"]["replayChannelMessages"]["messages"][1]["error"]
    assert re.search(r"[\u4e00-\u9fff]", in_chinese) and "NOT_JSON" in in_chinese  # their language, the same code
    assert not re.search(r"[\u4e00-\u9fff]", bad["error"])
    assert await order_ids(api) == ["902-3159896-1390916-ERR"]

    denied = await api.gql(REPLAY, {"input": {"channel": "AMAZON", "apply": True, **WINDOW}}, headers=creds.cs)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for _ in range(2):
        applied = await api.gql(REPLAY, {"input": {"channel": "AMAZON", "apply": True, **WINDOW}}, headers=creds.admin)
        assert applied["data"]["replayChannelMessages"]["messages"][0]["applied"] is True
    assert await order_ids(api) == ["902-3159896-1390916", "902-3159896-1390916-ERR"]
    async with api.runtime.core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(ChannelIntake))).scalar_one() == 3
    unknown = await api.gql(REPLAY, {"input": {"channel": "WECHAT_MINI", **WINDOW}}, headers=creds.admin)
    assert unknown["data"]["replayChannelMessages"]["userErrors"] == [{"field": ["input", "channel"],
                                                                      "code": "UNKNOWN_CHANNEL"}]  # fmt: skip


async def test_cli_replay_prints_the_dry_run_diff(api: Api, creds: Credentials) -> None:
    data = payload("TAOBAO")
    order_object("TAOBAO", data).update(order_id_suffix="ERR")
    await submit(api, creds, "TAOBAO", data)
    rule = {"op": "drop", "path": "trade_fullinfo_get_response.trade.order_id_suffix"}
    await api.gql(SAVE_RULES, {"input": {"channel": "TAOBAO", "rules": [rule]}}, headers=creds.admin)
    settings = api.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= {"ORDERHUB_DATABASE_URL": str(settings.database_url), "ORDERHUB_VAULT_KEY": "test-vault-key",
            "ORDERHUB_DATA_DIR": str(settings.data_dir), "ORDERHUB_IDENTITY_KEY": "test-identity-key-0123456789",
            "ORDERHUB_TOKEN_SECRET": "x" * 32}  # fmt: skip
    args = ["replay", "--channel", "taobao", "--from", "2000-01-01T00:00:00+08:00", "--to", "2100-01-01T00:00:00Z"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, env=env, cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert '"3916620753462938475-ERR", "3916620753462938475"' in out.decode()
    assert "supersedes 3916620753462938475-ERR" in out.decode()
    assert "1 message(s), 1 would change, 0 applied, 1 supersede an order" in out.decode()
    assert await order_ids(api) == ["3916620753462938475-ERR"]


SUPERSEDE = """mutation($input: ReplayInput!) { replayChannelMessages(input: $input) {
  messages { channelOrderId supersedes applied error } userErrors { code } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Order { channelOrderId status supersededBy { channelOrderId }
  timeline { flow { label } } backtrack { blockingPoint { summary } } } } }"""
MINE = """query { myOrders(first: 10) { edges { node { id status } } } }"""


async def test_a_replay_that_renames_an_order_supersedes_the_old_one_once(api: Api, creds: Credentials) -> None:
    data = payload("TAOBAO")
    order_object("TAOBAO", data).update(order_id_suffix="ERR")
    await submit(api, creds, "TAOBAO", data)
    async with api.runtime.core.sessions() as session, session.begin():
        [old] = (await session.execute(select(Order))).scalars()
        paid = PaymentNotice("alipay", "P1", VoucherKind.PAYMENT, old.channel_order_id, old.total_amount,
                             old.currency, VoucherStatus.CONFIRMED, old.placed_at)  # fmt: skip
        await post_notice(session, paid, outbox=Outbox())
    rule = {"op": "drop", "path": "trade_fullinfo_get_response.trade.order_id_suffix"}
    await api.gql(SAVE_RULES, {"input": {"channel": "TAOBAO", "rules": [rule]}}, headers=creds.admin)

    dry = await api.gql(SUPERSEDE, {"input": {"channel": "TAOBAO", **WINDOW}}, headers=creds.admin)
    assert dry["data"]["replayChannelMessages"]["messages"] == [
        {"channelOrderId": "3916620753462938475", "supersedes": "3916620753462938475-ERR", "applied": False,
         "error": None}
    ]  # fmt: skip
    answers = [
        (await api.gql(SUPERSEDE, {"input": {"channel": "TAOBAO", "apply": True, **WINDOW}}, headers=creds.admin))
        for _ in range(2)
    ]
    assert [a["data"]["replayChannelMessages"]["messages"][0]["supersedes"] for a in answers] == [
        "3916620753462938475-ERR", None,
    ]  # fmt: skip
    assert all(a["data"]["replayChannelMessages"]["messages"][0]["applied"] for a in answers)

    async with api.runtime.core.sessions() as session:
        orders = {o.channel_order_id: o for o in (await session.execute(select(Order))).scalars()}
        new = orders["3916620753462938475"]
        assert orders["3916620753462938475-ERR"].status == "VOID" and new.status != "VOID"
        voucher = (await session.execute(select(FundVoucher))).scalar_one()
        adjustment = (await session.execute(select(OrderAdjustment))).scalar_one()
        assert (voucher.order_id, adjustment.order_id) == (new.id, new.id)
        links = (await session.execute(select(BuyerChannel.first_order_id))).scalars().all()
        assert set(links) <= {new.id}
        events = (await session.execute(select(OrderEvent.type).where(OrderEvent.order_id == old.id))).scalars()
        assert list(events).count("ORDER_SUPERSEDED") == 1
        assert (await session.execute(select(func.count()).select_from(OrderSupersession))).scalar_one() == 1
    assert new.buyer_uid is not None and new.buyer_uid == old.buyer_uid
    mine = await api.gql(MINE, headers=creds.customer(api.runtime, new.buyer_uid))
    assert [e["node"]["id"] for e in mine["data"]["myOrders"]["edges"]] == [encode_gid("Order", new.id)]
    assert old.id is not None
    shown = await api.gql(NODE, {"id": encode_gid("Order", old.id)}, headers={**creds.admin, "Accept-Language": "en"})
    node = shown["data"]["node"]
    assert (node["channelOrderId"], node["status"], node["supersededBy"]) == (
        "3916620753462938475-ERR", "VOID", {"channelOrderId": "3916620753462938475"},
    )  # fmt: skip
    assert node["timeline"]["flow"][-1]["label"] == "void (superseded)"
    # the fault outlasting the replayed window: a later notice under the old number pays the new order
    async with api.runtime.core.sessions() as session, session.begin():
        late = PaymentNotice("alipay", "P2", VoucherKind.PAYMENT, old.channel_order_id, 100, old.currency,
                             VoucherStatus.CONFIRMED, old.placed_at)  # fmt: skip
        await post_notice(session, late, outbox=Outbox())
    async with api.runtime.core.sessions() as session:
        targets = (await session.execute(select(FundVoucher.order_id).order_by(FundVoucher.id))).scalars().all()
    assert targets == [new.id, new.id]
