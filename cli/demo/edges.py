"""The "trust at the edges" part of `orderhub demo`: payment notices that are signed but do not add up,
partner requests no parser should see, and two reconciliation runs of one statement at once. Each is sent
over real HTTP and what orderhub made of it is read back through the staff API and the traffic mirror."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import col, select

from api.auth.tokens import issue_staff_token
from api.graphql.ids import encode_gid
from domain.access.service import create_staff, issue_partner_key
from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome
from domain.ledger.models import FundVoucher
from domain.orders.models import Order
from runtime.process import Runtime
from sim.payment_providers import (
    AlipayPlatform,
    WechatPayPlatform,
    alipay_trade,
    generic_notification,
    wechat_transaction,
)
from sim.statements import BillRow, bank_csv, yuan

ORDER = """query($id: ID!) { order(id: $id) { status money { amountDue { amount currencyCode }
  amountReceived { amount currencyCode } receivedInOtherCurrencies { amount currencyCode }
  vouchers(first: 10) { nodes { providerTransactionId } } } } }"""
EXCEPTIONS = """{ orderExceptions(first: 100, filter: {kinds: [PAYMENT_AMOUNT_MISMATCH, PAYMENT_CURRENCY_MISMATCH,
  PAYMENT_ON_CLOSED_ORDER, UNMATCHED_PAYMENT]}) { nodes { kind details } }
  suspenseVouchers(first: 100) { nodes { providerTransactionId } } }"""
UPLOAD = """mutation($f: Upload!) { uploadStatement(input: {file: $f, provider: "lianlian"}) {
  statement { id lines } userErrors { code message } } }"""
RECONCILE = """mutation($ids: [ID!]) { runReconciliation(input: {statementIds: $ids}) {
  runs { provider statementLines matched } userErrors { code } } }"""


async def edges_demo(runtime: Runtime, port: int) -> None:
    async with runtime.core.sessions() as session, session.begin():
        finance = await create_staff(
            session, f"finance+{secrets.token_hex(3)}@demo.orderhub", secrets.token_urlsafe(12), ["finance"]
        )
        partner = await issue_partner_key(session, "edge-partner", ["orders:write"])
        orders = await _orders(session)
    assert finance.id is not None
    token = issue_staff_token(runtime.settings.secret("token_secret"), finance.id, finance.email, finance.roles, 10)
    staff = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        if orders is None:
            print("\n== edges: signed payment notices skipped (no unpaid and cancelled orders left)")
        else:
            await _notices(runtime, client, staff, orders)
        await _malformed(runtime, client, partner.key, partner.id)
        await _one_run(client, staff)


async def _orders(session: Any) -> list[Order] | None:
    """Three unpaid orders and a cancelled one in CNY, each the only order with its number, none paid for yet."""
    unique = select(Order.channel_order_id).group_by(col(Order.channel_order_id)).having(func.count() == 1)
    noticed = select(FundVoucher.order_ref).where(col(FundVoucher.order_ref).is_not(None))
    picked: list[Order] = []
    for status, n in (("PENDING_PAYMENT", 3), ("CANCELLED", 1)):
        query = select(Order).where(
            Order.status == status,
            Order.currency == "CNY",
            col(Order.channel_order_id).in_(unique),
            col(Order.channel_order_id).not_in(noticed),
        )
        picked += (await session.exec(query.order_by(col(Order.id)).limit(n))).all()
    return picked if len(picked) == 4 else None


async def _notices(runtime: Runtime, client: httpx.AsyncClient, staff: dict[str, str], orders: list[Order]) -> None:
    folder = runtime.settings.data_dir.resolve() / "money"
    folder.mkdir(parents=True, exist_ok=True)
    wechat, alipay, secret = WechatPayPlatform(), AlipayPlatform(), secrets.token_hex(16)
    runtime.core.settings = runtime.core.settings.model_copy(
        update={
            "wechatpay_platform_public_key_path": wechat.write_public_key(folder / "edges-wechatpay.pem"),
            "wechatpay_platform_serial": wechat.serial,
            "wechatpay_apiv3_key": SecretStr(wechat.apiv3_key),
            "alipay_public_key_path": alipay.write_public_key(folder / "edges-alipay.pem"),
            "payment_webhook_secrets": {**runtime.core.settings.payment_webhook_secrets, "lianlian": SecretStr(secret)},
        }
    )
    underpaid, overpaid, foreign, cancelled = orders
    cases = [
        ("underpaid by 0.01", "wechatpay", underpaid, underpaid.total_amount - 1),
        ("overpaid by 1.00", "alipay", overpaid, overpaid.total_amount + 100),
        ("paid in USD", "lianlian", foreign, foreign.total_amount),
        ("on a cancelled order", "wechatpay", cancelled, cancelled.total_amount),
        ("for an unknown order", "alipay", None, 8800),
    ]

    async def notify(provider: str, order_ref: str, txn: str, amount: int) -> httpx.Response:
        if provider == "wechatpay":
            headers, body = wechat.notification(wechat_transaction(order_ref, txn, amount), timestamp=int(time.time()))
        elif provider == "alipay":
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            body = alipay.notification(alipay_trade(order_ref, txn, yuan(amount)))
        else:
            headers, body = generic_notification(secret, {
                "transaction_id": txn, "kind": "payment", "order_ref": order_ref, "amount": yuan(amount),
                "currency": "USD", "status": "confirmed", "occurred_at": utcnow().isoformat()})  # fmt: skip
        return await client.post(f"/payments/{provider}/notify", content=body, headers=headers)

    sent = []
    for label, provider, order, amount in cases:
        txn = f"EDGE{secrets.token_hex(6).upper()}"
        order_ref = order.channel_order_id if order else "EDGE-NO-SUCH-ORDER"
        sent.append((label, txn, order, await notify(provider, order_ref, txn, amount)))
    found = await _gql(client, EXCEPTIONS, {}, staff)
    kinds = {e["details"].get("provider_transaction_id"): e["kind"] for e in found["orderExceptions"]["nodes"]}
    suspense = {v["providerTransactionId"] for v in found["suspenseVouchers"]["nodes"]}
    print(f"\n== edges: {len(sent)} payment notices, correctly signed, that do not match what is due")
    paid = 0
    for label, txn, order, response in sent:
        json_answer = response.headers.get("content-type", "").startswith("application/json")
        answer = f"{response.status_code} {response.json()['outcome'] if json_answer else response.text}".strip()
        if order is None:
            posted, state = txn in suspense, "no order; voucher in suspense"
        else:
            data = (await _gql(client, ORDER, {"id": encode_gid("Order", order.id or 0)}, staff))["order"]
            money = data["money"]
            posted = txn in {v["providerTransactionId"] for v in money["vouchers"]["nodes"]}
            received = [money["amountReceived"], *money["receivedInOtherCurrencies"]]
            paid += data["status"] == "PAID"
            state = (f"order {data['status']}, due {_money(money['amountDue'])}, received "
                     f"{' + '.join(_money(m) for m in received if float(m['amount'])) or '0'}")  # fmt: skip
        print(f"   {label:<22} -> {answer:<12} voucher posted: {'yes' if posted else 'no'}; {state}; "
              f"exception {kinds.get(txn, 'none')}")  # fmt: skip
    if runtime.core.settings.wechatpay_mchid is None:
        print("   (another merchant's notice: not shown, the demo configures no ORDERHUB_WECHATPAY_MCHID)")
    print(f"   orders paid with a wrong amount or currency: {paid} of {len(sent) - 1}")


def _money(value: dict[str, Any]) -> str:
    return f"{value['amount']} {value['currencyCode']}"


async def _malformed(runtime: Runtime, client: httpx.AsyncClient, key: str, key_id: int) -> None:
    """What a broken or hostile partner sends: each is refused with a 4xx and recorded with its reason."""
    query = '{"query": "{ __typename }"'
    limit = runtime.settings.max_body_bytes
    long_key = "k" * 1000
    sent = [
        ("nested 100,000 deep", f'{query}, "variables": {{"x": {"[" * 100_000}{"]" * 100_000}}}}}'.encode(), {}),
        ("a 5,000-digit number", f'{query}, "variables": {{"n": {"9" * 5000}}}}}'.encode(), {}),
        ("1,000-char Idempotency-Key", f"{query}}}".encode(), {"Idempotency-Key": long_key}),
        ("  same key, another body", f'{query}, "variables": {{}}}}'.encode(), {"Idempotency-Key": long_key}),
        (f"body over {limit:,} bytes", f'{query}, "x": "{"a" * limit}"}}'.encode(), {}),
        ("not UTF-8", f'{query}, "x": "'.encode() + b'\xff\xfe"}', {}),
        ("variables not an object", f'{query}, "variables": [1, 2]}}'.encode(), {}),
    ]
    since = utcnow()
    answers = []
    for _, body, headers in sent:
        response = await client.post(
            "/graphql", content=body, headers={"X-Api-Key": key, "content-type": "application/json", **headers}
        )
        answers.append(response.status_code)
    async with runtime.core.sessions() as session:
        rows = (
            await session.exec(
                select(InboundMessage)
                .where(InboundMessage.partner_key_id == key_id, col(InboundMessage.received_at) >= since)
                .order_by(col(InboundMessage.id))
            )
        ).all()
    print(f"\n== edges: {len(sent)} malformed partner requests, each answered and recorded with its reason")
    for (label, _, _), status, row in zip(sent, answers, rows, strict=True):
        reason = (row.error or "").replace("\n", " ")
        print(f"   {label:<27} -> HTTP {status} {row.outcome:<8} {reason[:80]}")
    pending = sum(row.outcome == Outcome.PENDING for row in rows)
    print(f"   5xx answers: {sum(s >= 500 for s in answers)}, messages without an outcome: {pending}")


async def _one_run(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    """The money section's statements are reconciled already; a new one is uploaded, then run twice at once."""
    line = BillRow(utcnow(), f"EDGE{secrets.token_hex(6).upper()}", "EDGE-STATEMENT", "PAYMENT", 4200)
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": UPLOAD, "variables": {"f": None}}), "map": '{"0": ["variables.f"]}'},
        files={"0": ("edges-bank.csv", bank_csv([line]), "text/csv")},
        headers={**staff, "Apollo-Require-Preflight": "true"},
    )
    upload = response.json()["data"]["uploadStatement"]
    if upload["statement"] is None:
        raise RuntimeError(f"the demo statement was refused: {upload['userErrors']}")
    ids = [upload["statement"]["id"]]
    both = await asyncio.gather(*(_gql(client, RECONCILE, {"ids": ids}, staff) for _ in range(2)))
    results = [b["runReconciliation"] for b in both]
    runs = [run for result in results for run in result["runs"]]
    refused = [error["code"] for result in results for error in result["userErrors"]]
    print("\n== edges: runReconciliation twice at once on one new bank statement")
    made = ", ".join(f"{r['provider']} {r['matched']}/{r['statementLines']} lines matched" for r in runs)
    print(f"   runs made: {len(runs)} ({made})")
    print(f"   the other call answered: {', '.join(refused) or 'nothing refused'}")


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
    body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    if body.get("errors"):
        raise RuntimeError(f"demo request refused: {body['errors']}")
    return body["data"]
