"""The demo's payment queries: the day's lost Alipay notification, found by asking Alipay.

Alipay's side is answered in-process (an httpx transport, no network) in its real format: the request's RSA2
signature checked with the app's public key, the answer's `alipay_trade_query_response` signed with the
platform key, a trade Alipay does not know answered ACQ.TRADE_NOT_EXIST.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import col, select

from domain.ledger.gaps import GapReason, gaps_closed
from domain.reconcile.models import ReconItem, ReconRun, Statement, StatementLine
from runtime.payment_queries import PaymentQueries
from runtime.process import Runtime
from sim.payment_providers import ALIPAY_APP_ID, AlipayPlatform, private_pem, verify_alipay_request
from sim.statements import yuan

GATEWAY = "https://alipay.demo/gateway.do"


async def gaps_demo(runtime: Runtime, folder: Path) -> None:
    platform, app = AlipayPlatform(), rsa.generate_private_key(65537, 2048)
    (folder / "alipay-app.pem").write_bytes(private_pem(app))
    runtime.core.settings = runtime.settings.model_copy(
        update={
            "alipay_gateway_url": GATEWAY,
            "alipay_app_id": ALIPAY_APP_ID,
            "alipay_app_private_key_path": folder / "alipay-app.pem",
            "alipay_public_key_path": platform.write_public_key(folder / "alipay-query-public.pem"),
        }
    )
    async with runtime.core.sessions() as session:
        rows = (
            await session.exec(
                select(StatementLine.order_ref, StatementLine.provider_txn_id, StatementLine.amount)
                .join(ReconItem, col(ReconItem.statement_line_id) == StatementLine.id)
                .join(Statement, col(Statement.id) == StatementLine.statement_id)
                .where(col(ReconItem.drift) == "MISSING_IN_SYSTEM", col(Statement.provider) == "alipay")
            )
        ).all()
    trades = {str(ref): (str(txn), int(amount)) for ref, txn, amount in rows}

    def answer(request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        found = re.search(r'"out_trade_no":"([^"]*)"', params.get("biz_content", ""))
        trade = trades.get(found.group(1) if found else "")
        if not verify_alipay_request(params, app.public_key()):
            response = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
        elif trade is None:
            response = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
        else:
            number = found.group(1) if found else ""
            response = {"code": "10000", "msg": "Success", "trade_no": trade[0], "out_trade_no": number,
                        "trade_status": "TRADE_SUCCESS", "total_amount": yuan(trade[1])}  # fmt: skip
        return httpx.Response(200, content=platform.query_answer(response), headers={"Content-Type": "text/html"})

    queries = PaymentQueries(runtime.core, runtime.relay.notify, httpx.MockTransport(answer))
    asked = await queries.close_gaps(frozenset({GapReason.MISSING_IN_SYSTEM}))
    async with runtime.core.sessions() as session:
        runs = (await session.exec(select(ReconRun.id, ReconRun.provider))).all()
        closed = await gaps_closed(session, [int(i) for i, _ in runs if i is not None])
    outcomes = dict(Counter(a.outcome.value for a in asked))
    print(f"\n== payment queries: {len(asked)} MISSING_IN_SYSTEM line(s) asked about at Alipay, outcomes {outcomes}")
    for run_id, provider in runs:
        if run_id is not None and closed.get(run_id):
            print(f"   {provider} reconciliation: {closed[run_id]} gap(s) closed by a signed query answer")
