"""Finance over GraphQL: multipart statement upload (with the CSRF preflight), runs, reversal, settlement."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth.tokens import issue_staff_token
from api.graphql.ids import encode_gid
from domain.access.service import create_staff
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from domain.reconcile.service import import_statement, parse_statement
from sim.statements import BillRow, wechat_trade_bill
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
UPLOAD = """mutation Up($input: UploadStatementInput!) {
  uploadStatement(input: $input) { statement { id provider lines alreadyImported } userErrors { field message code } }
}"""
RUN = """mutation { runReconciliation(input: {}) { runs { id matched statementLines matchRate drifts { drift count }
  items(first: 10) { nodes { id drift providerTransactionId voucherId } } } userErrors { code } } }"""
RUN_SOME = """mutation($input: RunReconciliationInput!) { runReconciliation(input: $input) {
  runs { items(first: 10) { nodes { id } } } userErrors { field code } } }"""
RESOLVE = """mutation R($input: ResolveReconItemInput!) {
  resolveReconItem(input: $input) { item { resolution resolvedBy note } userErrors { field code } } }"""
SETTLEMENT = """query S($from: DateTime!, $to: DateTime!) {
  settlementByBuyer(from: $from, to: $to, first: 10) { nodes { buyerUid orders received { amount currencyCode } } } }"""


async def finance(api: Api) -> dict[str, str]:
    async with api.runtime.core.sessions() as session, session.begin():
        user = await create_staff(session, "finance@shop.example", "correct horse battery", ["finance"])
    assert user.id is not None
    token = issue_staff_token(api.runtime.settings.secret("token_secret"), user.id, user.email, user.roles, 10)
    return {"Authorization": f"Bearer {token.token}"}


async def upload(api: Api, headers: dict[str, str], data: bytes, name: str = "wx-20261124.csv") -> Any:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    return await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, data, "text/csv")},
        headers=headers,
    )


async def test_upload_reconcile_reverse_and_settle(api: Api, creds: Credentials) -> None:
    staff = await finance(api)
    submitted = await api.gql(SUBMIT_ORDER, {"input": order_input("T1")}, headers=creds.writer)
    buyer = submitted["data"]["submitOrder"]["order"]["buyerUid"]
    assert buyer
    async with api.runtime.core.sessions() as session, session.begin():
        for txn, ref in (("W1", "T1"), ("W2", "T1")):
            item = PaymentNotice("wechatpay", txn, VoucherKind.PAYMENT, ref, 8000, "CNY", VoucherStatus.CONFIRMED, DAY)
            await post_notice(session, item, outbox=Outbox(), received_at=DAY + timedelta(seconds=30))
    data = wechat_trade_bill([BillRow(DAY, "W1", "T1", "PAYMENT", 8000, coupon=2000)])

    refused = await upload(api, staff, data)
    assert refused.status_code == 400 and "preflight" in refused.text
    preflight = {**staff, "Apollo-Require-Preflight": "true"}
    for already in (False, True):
        body = (await upload(api, preflight, data)).json()
        statement = body["data"]["uploadStatement"]["statement"]
        assert (statement["provider"], statement["lines"], statement["alreadyImported"]) == ("wechatpay", 1, already)
    cs = await upload(api, {**creds.cs, "Apollo-Require-Preflight": "1"}, data)
    assert cs.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = (await upload(api, preflight, data.replace(b"`80.00", b"`8O.00", 1), "bad.csv")).json()
    [error] = bad["data"]["uploadStatement"]["userErrors"]
    assert error["code"] == "INVALID_STATEMENT" and error["message"].startswith("bad.csv, line 2, column 应结订单金额")

    [run] = (await api.gql(RUN, headers=staff))["data"]["runReconciliation"]["runs"]
    assert (run["matched"], run["statementLines"], run["matchRate"]) == (1, 1, 1.0)
    assert run["drifts"] == [{"drift": "DUPLICATE_NOTIFICATION", "count": 1}]
    [item] = run["items"]["nodes"]
    assert item["providerTransactionId"] == "W2"
    result = await api.gql(
        RESOLVE, {"input": {"itemId": item["id"], "resolution": "REVERSED", "note": "notified twice"}}, headers=staff
    )
    assert result["data"]["resolveReconItem"]["item"] == {
        "resolution": "REVERSED", "resolvedBy": "finance@shop.example", "note": "notified twice",
    }  # fmt: skip
    again = await api.gql(
        RESOLVE, {"input": {"itemId": item["id"], "resolution": "EXPLAINED", "note": "x"}}, headers=staff
    )
    assert again["data"]["resolveReconItem"]["userErrors"] == [
        {"field": ["input", "itemId"], "code": "ALREADY_RESOLVED"}
    ]
    settlement = await api.gql(
        SETTLEMENT, {"from": "2026-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, headers=staff
    )
    assert settlement["data"]["settlementByBuyer"]["nodes"] == [
        {"buyerUid": buyer, "orders": 1, "received": {"amount": "80.00", "currencyCode": "CNY"}}
    ]


async def test_a_second_reconciliation_of_a_statement_is_told_it_is_already_reconciling(api: Api) -> None:
    staff = await finance(api)
    data = wechat_trade_bill([BillRow(DAY, "W9", "T9", "PAYMENT", 8000)])
    async with api.runtime.core.sessions() as session, session.begin():
        parsed = parse_statement("wx.csv", data)
        imported = await import_statement(session, "wx.csv", data, parsed, "finance@shop.example")
    variables = {"input": {"statementIds": [encode_gid("Statement", imported.statement_id)]}}
    first, second = await asyncio.gather(*(api.gql(RUN_SOME, variables, headers=staff) for _ in range(2)))
    payloads = sorted((r["data"]["runReconciliation"] for r in (first, second)), key=lambda p: len(p["runs"]))
    assert payloads[0] == {"runs": [], "userErrors": [{"field": ["input", "statementIds"],
                                                       "code": "ALREADY_RECONCILING"}]}  # fmt: skip
    assert [len(run["items"]["nodes"]) for run in payloads[1]["runs"]] == [1]
    assert payloads[1]["userErrors"] == []
