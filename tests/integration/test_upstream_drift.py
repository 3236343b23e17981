"""The drift watch beyond channels: a payment provider adding a field, a warehouse changing what it sends,
a bank renaming a column (the statement held, then accepted) and a statement in no known encoding."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from domain.channels.models import DriftAlert, SchemaBaseline
from domain.channels.upstream import UpstreamKind, evidence_fields, observe, pin
from domain.errors import Problems
from domain.fulfilment.evidence import CarrierSubmission, validate_carrier
from domain.reconcile.models import HeldStatement, StatementLine
from sim.payment_providers import AlipayPlatform, WechatPayPlatform, generic_notification
from sim.statements import BillRow, bank_csv
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import CARRIER, callers, carrier_event
from tests.integration.test_payments import GENERIC_SECRET, Providers, providers_configured

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ALERTS = """query A($upstream: UpstreamKind, $source: String) { driftAlerts(first: 20, upstream: $upstream,
  source: $source) { nodes { upstream source channel path change detail count } } }"""
PIN = """mutation P($input: PinUpstreamBaselineInput!) { pinUpstreamBaseline(input: $input) {
  baseline { channel kind samples pinnedBy } userErrors { field code message } } }"""
UPLOAD = """mutation Up($input: UploadStatementInput!) { uploadStatement(input: $input) {
  statement { id lines } held { id source reason } userErrors { field message code } } }"""
HELD = "query { heldStatements { id filename reason } }"
REPLAY = """query R($provider: String!) { replayPaymentNotifications(provider: $provider) { messageId drift } }"""
SAVE_RULES = """mutation S($input: SaveUpstreamRulesInput!) { saveUpstreamRules(input: $input) {
  ruleSet { kind version } userErrors { code } } }"""
ACCEPT = """mutation A($input: AcceptStatementLayoutInput!) { acceptStatementLayout(input: $input) {
  statement { id lines } userErrors { field code message } } }"""


@pytest.fixture
async def pay(api: Api, tmp_path: Path) -> AsyncIterator[Api]:
    async with providers_configured(api, Providers(WechatPayPlatform(), AlipayPlatform()), tmp_path) as configured:
        yield configured


async def upload(api: Api, headers: dict[str, str], data: bytes, name: str, provider: str) -> Any:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None, "provider": provider}}}
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, data, "text/csv")},
        headers={**headers, "Apollo-Require-Preflight": "1"},
    )
    return response.json()["data"]["uploadStatement"]


async def held_reason(api: Api, creds: Credentials, held_id: str, language: str) -> str:
    answer = await api.gql(HELD, headers={**creds.admin, "Accept-Language": language})
    [reason] = [h["reason"] for h in answer["data"]["heldStatements"] if h["id"] == held_id]
    return str(reason)


async def test_a_payment_provider_adding_a_field_raises_a_payment_alert(pay: Api, creds: Credentials) -> None:
    url = "/payments/lianlian/notify"
    base = {"kind": "payment", "order_ref": "NO-SUCH", "amount": "9.90", "currency": "CNY", "status": "confirmed",
            "occurred_at": "2026-11-24T20:45:00+08:00"}  # fmt: skip
    for n in range(2):
        headers, body = generic_notification(GENERIC_SECRET, base | {"transaction_id": f"DRIFT-{n}"})
        assert (await pay.client.post(url, content=body, headers=headers)).status_code == 200
    pinned = await pay.gql(PIN, {"input": {"upstream": "PAYMENT", "source": "lianlian"}}, headers=creds.admin)
    assert pinned["data"]["pinUpstreamBaseline"]["baseline"]["kind"] == "payment-notification"
    assert pinned["data"]["pinUpstreamBaseline"]["baseline"]["samples"] >= 2
    headers, body = generic_notification(GENERIC_SECRET, base | {"transaction_id": "DRIFT-9", "fee_amount": "0.05"})
    assert (await pay.client.post(url, content=body, headers=headers)).json()["code"] == "SUCCESS"
    found = await pay.gql(ALERTS, {"upstream": "PAYMENT", "source": "lianlian"}, headers=creds.cs)
    assert {"upstream": "PAYMENT", "source": "lianlian", "channel": "lianlian", "path": "fee_amount",
            "change": "NEW_FIELD", "detail": "string", "count": 1} in found["data"]["driftAlerts"]["nodes"]  # fmt: skip
    replayed = await pay.gql(REPLAY, {"provider": "lianlian"}, headers=creds.cs)
    drifted = [m["drift"] for m in replayed["data"]["replayPaymentNotifications"]]
    assert drifted[-3:] == [[], [], ["NEW_FIELD fee_amount string"]]
    rules = {"upstream": "PAYMENT", "source": "lianlian", "rules": [{"op": "drop", "path": "fee_amount"}]}
    saved = await pay.gql(SAVE_RULES, {"input": rules}, headers=creds.admin)
    assert saved["data"]["saveUpstreamRules"]["ruleSet"]["kind"] == "payment-notification"
    headers, body = generic_notification(GENERIC_SECRET, base | {"transaction_id": "DRIFT-10", "fee_amount": "0.07"})
    assert (await pay.client.post(url, content=body, headers=headers)).json()["code"] == "SUCCESS"
    after = await pay.gql(ALERTS, {"upstream": "PAYMENT", "source": "lianlian"}, headers=creds.cs)
    assert [n["count"] for n in after["data"]["driftAlerts"]["nodes"] if n["path"] == "fee_amount"] == [1]
    replayed = await pay.gql(REPLAY, {"provider": "lianlian"}, headers=creds.cs)
    assert all(m["drift"] == [] for m in replayed["data"]["replayPaymentNotifications"])  # today's rules
    channel_only = await pay.gql("query { driftAlerts(first: 50, channel: TAOBAO) { nodes { upstream } } }",
                                 headers=creds.cs)  # fmt: skip
    assert {n["upstream"] for n in channel_only["data"]["driftAlerts"]["nodes"]} <= {"CHANNEL"}
    nothing = await pay.gql(PIN, {"input": {"upstream": "CARRIER", "source": "carrier:NEVER"}}, headers=creds.admin)
    assert nothing["data"]["pinUpstreamBaseline"]["userErrors"][0]["code"] == "NO_BASELINE"


def _carrier(event: str, **extra: Any) -> Any:
    sub = CarrierSubmission(event, "ZTO-DRIFT", "7512345", "DELIVERED", DAY, **extra)
    evidence = validate_carrier(sub, ("input",), Problems())
    assert evidence is not None
    return evidence_fields(evidence)


async def test_a_carrier_that_stops_sending_a_field_and_sends_a_new_action_is_told(api: Api) -> None:
    upstream, source, fields = _carrier("e1", location="Hangzhou", courier="Li")
    assert (upstream, source) == (UpstreamKind.CARRIER, "carrier:ZTO-DRIFT")
    async with api.runtime.core.sessions() as session, session.begin():
        assert await observe(session, upstream, source, [fields, _carrier("e2", location="Ningbo", courier="Wu")[2]])
        await pin(session, upstream, source, "ops@shop.example")
    changed = _carrier("e3", courier="Li")[2]
    changed["details"]["action"] = "SIGNED_BY_LOCKER"
    async with api.runtime.core.sessions() as session, session.begin():
        [findings] = await observe(session, upstream, source, [changed])
    assert {(f.path, f.change.value) for f in findings} == {
        ("station", "MISSING_FIELD"), ("details.location", "MISSING_FIELD"), ("details.action", "NEW_VALUE"),
    }  # fmt: skip
    async with api.runtime.core.sessions() as session:
        rows = (await session.exec(select(DriftAlert).where(DriftAlert.channel == source))).all()
    assert {(r.upstream, r.kind, r.path) for r in rows} == {
        ("CARRIER", "carrier-event", p) for p in ("station", "details.location", "details.action")
    }


async def test_a_bank_renaming_a_column_is_held_then_accepted_with_the_rename(api: Api, creds: Credentials) -> None:
    rows = [BillRow(DAY, "R1", "T-HELD-1", "PAYMENT", 8000), BillRow(DAY, "R2", "T-HELD-2", "PAYMENT", 100)]
    first = await upload(api, creds.admin, bank_csv(rows[:1]), "b1.csv", "heldbank")
    assert first["statement"]["lines"] == 1 and first["held"] is None
    pinned = await api.gql(
        PIN, {"input": {"upstream": "STATEMENT", "source": "bank-csv:heldbank"}}, headers=creds.admin
    )
    assert pinned["data"]["pinUpstreamBaseline"]["baseline"]["pinnedBy"] == "staff:admin@shop.example"

    renamed = bank_csv(rows).replace(b"memo", b"remark", 1)
    held = await upload(api, creds.admin, renamed, "b2.csv", "heldbank")
    assert held["statement"] is None and held["held"]["source"] == "bank-csv:heldbank"
    assert "column 'memo' is gone" in held["held"]["reason"] and "new column 'remark'" in held["held"]["reason"]
    assert held["held"]["id"] in [h["id"] for h in (await api.gql(HELD, headers=creds.admin))["data"]["heldStatements"]]
    in_chinese = await held_reason(api, creds, held["held"]["id"], "zh-CN")
    assert (
        in_chinese.startswith("格式已变化：") and "列 'memo' 已不存在" in in_chinese and "新增列 'remark'" in in_chinese
    )
    assert "；" in in_chinese and await held_reason(api, creds, held["held"]["id"], "en") == held["held"]["reason"]
    alerts = await api.gql(ALERTS, {"upstream": "STATEMENT", "source": "bank-csv:heldbank"}, headers=creds.cs)
    assert {(n["path"], n["change"]) for n in alerts["data"]["driftAlerts"]["nodes"]} == {
        ("columns.memo", "MISSING_FIELD"), ("columns.remark", "NEW_FIELD"),
    }  # fmt: skip

    async with api.runtime.core.sessions() as session:
        [kept] = (await session.exec(select(HeldStatement).where(HeldStatement.filename == "b2.csv"))).all()
    assert b"T-HELD-1" not in kept.data  # sealed: a statement may name buyers
    accept = {"heldStatementId": held["held"]["id"], "renames": [{"column": "remark", "readsAs": "memo"}]}
    accepted = (await api.gql(ACCEPT, {"input": accept}, headers=creds.admin))["data"]["acceptStatementLayout"]
    assert accepted["userErrors"] == [] and accepted["statement"]["lines"] == 2
    statement_id = int(accepted["statement"]["id"].rsplit("/", 1)[1])
    async with api.runtime.core.sessions() as session:
        refs = (await session.exec(select(StatementLine.order_ref).where(StatementLine.statement_id == statement_id)
                                   .order_by(col(StatementLine.line_no)))).all()  # fmt: skip
    assert list(refs) == ["T-HELD-1", "T-HELD-2"]
    again = (await api.gql(ACCEPT, {"input": accept}, headers=creds.admin))["data"]["acceptStatementLayout"]
    assert again["userErrors"][0]["code"] == "NOT_FOUND"
    later = bank_csv([BillRow(DAY, "R3", "T-HELD-3", "PAYMENT", 5)]).replace(b"memo", b"remark", 1)
    assert (await upload(api, creds.admin, later, "b3.csv", "heldbank"))["statement"]["lines"] == 1  # the new normal


async def test_a_statement_in_no_known_encoding_is_held_and_cannot_be_accepted(api: Api, creds: Credentials) -> None:
    utf16 = bank_csv([BillRow(DAY, "U1", "T-U16", "PAYMENT", 100)]).decode().encode("utf-16")
    held = await upload(api, creds.admin, utf16, "u16.csv", "utf16bank")
    assert held["statement"] is None and held["held"]["reason"].startswith("unknown encoding: ")
    problem = held["held"]["reason"].removeprefix("unknown encoding: ")
    assert await held_reason(api, creds, held["held"]["id"], "zh-CN") == f"无法识别的编码：{problem}"
    async with api.runtime.core.sessions() as session, session.begin():
        [kept] = (await session.exec(select(HeldStatement).where(HeldStatement.filename == "u16.csv"))).all()
        assert kept.reason == held["held"]["reason"]  # the English stays for exports and logs
        kept.sentences = None  # a file held before the sentence was kept: its text as written, in every language
    assert await held_reason(api, creds, held["held"]["id"], "zh-CN") == held["held"]["reason"]
    accept = {"heldStatementId": held["held"]["id"]}
    refused = (await api.gql(ACCEPT, {"input": accept}, headers=creds.admin))["data"]["acceptStatementLayout"]
    assert refused["statement"] is None and refused["userErrors"][0]["code"] == "UNKNOWN_ENCODING"
    alerts = await api.gql(ALERTS, {"upstream": "STATEMENT", "source": "bank-csv:utf16bank"}, headers=creds.cs)
    assert [(n["path"], n["detail"]) for n in alerts["data"]["driftAlerts"]["nodes"]] == [("encoding", "unknown")]


async def test_carrier_events_sent_to_the_api_teach_their_carriers_baseline(api: Api) -> None:
    who = await callers(api)
    for n in range(2):
        event = carrier_event("IN_TRANSIT", DAY, f"drift-{n}", tracking=f"SF-DRIFT-{n}")
        assert "errors" not in await api.gql(CARRIER, {"input": event}, headers=who.carrier)
    async with api.runtime.core.sessions() as session:
        [baseline] = (await session.exec(select(SchemaBaseline).where(SchemaBaseline.channel == "carrier:SF"))).all()
    assert (baseline.upstream, baseline.kind, baseline.samples) == ("CARRIER", "carrier-event", 2)
    assert {"kind", "station", "operator", "details.location", "details.action"} <= set(baseline.shape["fields"])
