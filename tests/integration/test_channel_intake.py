"""Channel payloads through GraphQL: recorded first, cleaned by versioned rules, watched for drift."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import col, select

from domain.channels.models import ChannelIntake, DriftAlert
from domain.intake.models import InboundMessage, Outcome
from domain.intake.service import read_body
from domain.orders.models import Order
from tests.conftest import Api, Credentials
from tests.fixtures.channels import FILES, order_object, payload

SUBMIT = """
mutation($input: SubmitChannelOrderInput!) {
  submitChannelOrder(input: $input) {
    order { channel channelOrderId status rawStatus totalAmount { amount currencyCode } }
    ruleVersion drift
    userErrors { field message code }
  }
}"""
SAVE_RULES = """
mutation($input: SaveCleaningRulesInput!) {
  saveCleaningRules(input: $input) { ruleSet { version rules createdBy } userErrors { field message code } }
}"""
PIN = """mutation($c: SalesChannel!) { pinSchemaBaseline(input: {channel: $c}) {
  baseline { samples fields pinnedAt } userErrors { code } } }"""
ALERTS = """query { driftAlerts(first: 10) { nodes { channel path change detail example count } } }"""
MONITOR = """query($c: SalesChannel!) { upstreamMonitor(channel: $c) { ruleVersion timeline { what summary } } }"""


async def submit(api: Api, creds: Credentials, channel: str, data: Any) -> dict[str, Any]:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    result = await api.gql(SUBMIT, {"input": {"channel": channel, "payload": text}}, headers=creds.writer)
    assert "errors" not in result, result
    body: dict[str, Any] = result["data"]["submitChannelOrder"]
    return body


async def channel_messages(api: Api) -> list[InboundMessage]:
    async with api.runtime.core.sessions() as session:
        query = select(InboundMessage).where(InboundMessage.kind != "graphql").order_by(col(InboundMessage.id))
        return list((await session.exec(query)).all())


@pytest.mark.parametrize("channel", sorted(FILES))
async def test_each_channel_payload_becomes_an_order_with_its_raw_status(
    api: Api, creds: Credentials, channel: str
) -> None:
    result = await submit(api, creds, channel, payload(channel))
    assert result["userErrors"] == []
    order = result["order"]
    assert order["channel"] == channel and order["status"] == "PAID"
    assert order["rawStatus"] == {"TAOBAO": "WAIT_SELLER_SEND_GOODS", "DOUYIN": "2", "WECHAT_CHANNELS": "20",
                                  "AMAZON": "Unshipped"}[channel]  # fmt: skip
    [message] = await channel_messages(api)
    assert (message.source, message.outcome) == (channel, Outcome.APPLIED)
    async with api.runtime.core.sessions() as session:
        [intake] = (await session.exec(select(ChannelIntake))).all()
    assert intake.inbound_message_id == message.id and intake.rule_version == 0
    assert intake.canonical["channelOrderId"] == order["channelOrderId"]


@pytest.mark.parametrize(
    ("channel", "text", "field", "code"),
    [
        ("TAOBAO", '{"trade_fullinfo_get_response": {"trade": ', ["input", "payload"], "NOT_JSON"),
        ("TAOBAO", "[1, 2]", ["input", "payload"], "WRONG_SHAPE"),
        ("WECHAT_MINI", "{}", ["input", "channel"], "UNKNOWN_CHANNEL"),  # a channel without a payload format
        ("DOUYIN", json.dumps({"data": {"shop_order_detail": {"order_id": "6919475937285932451",
                                                               "order_status": "2"}}}),
         ["input", "payload", "data", "shop_order_detail", "order_status"], "WRONG_SHAPE"),
        ("AMAZON", json.dumps({"order": {}, "orderItems": [], "pad": "x" * 300_000}), ["input", "payload"],
         "TOO_LARGE"),
    ],
)  # fmt: skip
async def test_bad_payloads_are_refused_with_a_path_and_kept(
    api: Api, creds: Credentials, channel: str, text: str, field: list[str], code: str
) -> None:
    result = await submit(api, creds, channel, text)
    assert result["order"] is None
    assert [field, code] in [[e["field"], e["code"]] for e in result["userErrors"]]
    [message] = await channel_messages(api)
    assert message.outcome == Outcome.REJECTED and message.error
    async with api.runtime.core.sessions() as session:
        kept = await read_body(session, api.runtime.core.vault, message.id or 0)
        assert kept == text.encode()[: len(kept)] and kept
        assert (await session.exec(select(Order))).first() is None


async def test_err_suffix_rule_is_versioned_and_recorded_on_each_order(api: Api, creds: Credentials) -> None:
    await submit(api, creds, "AMAZON", payload("AMAZON"))
    refused = await api.gql(
        SAVE_RULES, {"input": {"channel": "AMAZON", "rules": [{"op": "drop_if_equals", "path": "order_id_suffix",
                                                                "value": "ERR"}]}}, headers=creds.cs)  # fmt: skip
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    broken = await api.gql(
        SAVE_RULES, {"input": {"channel": "AMAZON", "rules": [{"op": "drop", "path": "order.AmazonOrderId"}]}},
        headers=creds.admin,
    )  # fmt: skip
    [error] = broken["data"]["saveCleaningRules"]["userErrors"]
    assert error["code"] == "BREAKS_MAPPING" and "AmazonOrderId" in error["message"]
    invalid = await api.gql(
        SAVE_RULES, {"input": {"channel": "AMAZON", "rules": [{"op": "drop", "path": "order.x"}, {"op": "melt"}]}},
        headers=creds.admin,
    )  # fmt: skip
    assert invalid["data"]["saveCleaningRules"]["userErrors"] == [
        {"field": ["input", "rules", "1", "op"], "code": "INVALID_RULE", "message": invalid["data"][
            "saveCleaningRules"]["userErrors"][0]["message"]}
    ]  # fmt: skip
    wms = await api.gql(SUBMIT, {"input": {"channel": "AMAZON", "payload": "{}"}}, headers=creds.wms_only)
    assert wms["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    suffixed = payload("AMAZON")
    order_object("AMAZON", suffixed).update(AmazonOrderId="111-0000001-0000001", order_id_suffix="ERR")
    before = await submit(api, creds, "AMAZON", suffixed)
    assert before["order"]["channelOrderId"] == "111-0000001-0000001-ERR"

    rule = {"op": "drop_if_equals", "path": "order.order_id_suffix", "value": "ERR"}
    saved = await api.gql(SAVE_RULES, {"input": {"channel": "AMAZON", "rules": [rule]}}, headers=creds.admin)
    rule_set = saved["data"]["saveCleaningRules"]["ruleSet"]
    assert rule_set == {"version": 1, "rules": [rule], "createdBy": "staff:admin@shop.example"}

    order_object("AMAZON", suffixed).update(AmazonOrderId="111-0000001-0000002")
    after = await submit(api, creds, "AMAZON", suffixed)
    assert after["order"]["channelOrderId"] == "111-0000001-0000002" and after["ruleVersion"] == 1
    async with api.runtime.core.sessions() as session:
        versions = {i.channel_order_id: i.rule_version for i in (await session.exec(select(ChannelIntake))).all()}
    assert versions["111-0000001-0000002"] == 1 and versions["111-0000001-0000001-ERR"] == 0
    listed = """{ orders(first: 10) { nodes { channelOrderId cleaningRuleVersion } } }"""
    seen = (await api.gql(listed, headers=creds.cs))["data"]["orders"]["nodes"]
    assert {o["channelOrderId"]: o["cleaningRuleVersion"] for o in seen} == versions
    hidden = await api.gql(listed, headers=creds.reader)
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_pinned_schema_raises_counted_redacted_alerts(api: Api, creds: Credentials) -> None:
    nothing = await api.gql(PIN, {"c": "DOUYIN"}, headers=creds.admin)
    assert nothing["data"]["pinSchemaBaseline"]["userErrors"] == [{"code": "NO_BASELINE"}]
    await submit(api, creds, "DOUYIN", payload("DOUYIN"))
    pinned = await api.gql(PIN, {"c": "DOUYIN"}, headers=creds.admin)
    assert pinned["data"]["pinSchemaBaseline"]["baseline"]["samples"] == 1
    for n in range(2):
        drifted = payload("DOUYIN")
        inner = order_object("DOUYIN", drifted)
        inner.update(order_id=f"691947593728593{n:04d}", order_status=106, receiver_phone="13812345678")
        result = await submit(api, creds, "DOUYIN", drifted)
        assert result["userErrors"][0]["code"] == "UNKNOWN_STATUS"
        assert "NEW_VALUE data.shop_order_detail.order_status 106" in result["drift"]
    alerts = (await api.gql(ALERTS, headers=creds.cs))["data"]["driftAlerts"]["nodes"]
    by_path = {(a["path"], a["change"]): a for a in alerts}
    phone = by_path[("data.shop_order_detail.receiver_phone", "NEW_FIELD")]
    assert phone["count"] == 2 and "13812345678" not in phone["example"]
    assert by_path[("data.shop_order_detail.order_status", "NEW_VALUE")]["detail"] == "106"
    async with api.runtime.core.sessions() as session:
        assert len((await session.exec(select(DriftAlert))).all()) == len(alerts)
    english = {**creds.cs, "Accept-Language": "en"}
    monitor = (await api.gql(MONITOR, {"c": "DOUYIN"}, headers=english))["data"]["upstreamMonitor"]
    assert any("gained data.shop_order_detail.receiver_phone" in e["summary"] for e in monitor["timeline"])
    chinese = {**creds.cs, "Accept-Language": "zh-CN"}
    monitor = (await api.gql(MONITOR, {"c": "DOUYIN"}, headers=chinese))["data"]["upstreamMonitor"]
    assert any("新增了 data.shop_order_detail.receiver_phone" in e["summary"] for e in monitor["timeline"])
    assert all("(UTC+08:00)" in e["summary"] for e in monitor["timeline"] if e["what"] == "DRIFT")
    denied = await api.gql(ALERTS, headers=creds.writer)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RULES = """query($c: SalesChannel!, $first: Int!, $after: String) { cleaningRules(channel: $c, first: $first,
  after: $after) { nodes { version } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


async def test_cleaning_rule_versions_are_a_connection_newest_first(api: Api, creds: Credentials) -> None:
    for suffix in ("A", "B", "C"):
        rule = {"op": "drop_if_equals", "path": "order_id_suffix", "value": suffix}
        saved = await api.gql(SAVE_RULES, {"input": {"channel": "TAOBAO", "rules": [rule]}}, headers=creds.admin)
        assert saved["data"]["saveCleaningRules"]["userErrors"] == []
    page = (await api.gql(RULES, {"c": "TAOBAO", "first": 2}, headers=creds.cs))["data"]["cleaningRules"]
    assert [n["version"] for n in page["nodes"]] == [3, 2]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (True, False)
    after = {"c": "TAOBAO", "first": 2, "after": page["pageInfo"]["endCursor"]}
    rest = (await api.gql(RULES, after, headers=creds.cs))["data"]["cleaningRules"]
    assert [n["version"] for n in rest["nodes"]] == [1]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    too_many = await api.gql(RULES, {"c": "TAOBAO", "first": 101}, headers=creds.cs)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
