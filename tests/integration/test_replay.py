"""Replaying recorded channel traffic: a dry run shows the diff and changes nothing; applying is idempotent."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import func, select

from domain.channels.models import ChannelIntake
from domain.orders.models import Order
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
        sys.executable, "-m", "api.cli", *args, env=env, cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert '"3916620753462938475-ERR", "3916620753462938475"' in out.decode()
    assert "1 message(s), 1 would change, 0 applied" in out.decode()
    assert await order_ids(api) == ["3916620753462938475-ERR"]
