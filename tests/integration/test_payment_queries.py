"""Payment queries against local fake WeChat Pay and Alipay servers that check orderhub's request signatures
and sign their answers as the providers do; on both databases."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlmodel import col, select
from werkzeug import Request, Response

from api.graphql.ids import encode_gid
from domain.fulfilment.models import OrderException
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.ledger.models import FundVoucher, PaymentQuery
from domain.ledger.providers.answer import QueryOutcome
from domain.orders.models import Order
from domain.reconcile.models import ReconItem, Resolution
from domain.reconcile.service import import_statement, parse_statement, reconcile
from runtime.payment_queries import PaymentQueries
from sim.payment_providers import (
    ALIPAY_APP_ID,
    WECHATPAY_APPID,
    WECHATPAY_MCHID,
    AlipayPlatform,
    WechatPayPlatform,
    private_pem,
    verify_alipay_request,
    verify_wechatpay_request,
    wechat_transaction,
)
from sim.statements import BillRow, bank_csv
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

FORGED = b'{"out_trade_no":"WX-FORGED","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":9590}}'
FORGED = b'{"out_trade_no":"WX-FORGED","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":9590}}'
Handler = Callable[[], tuple[int, dict[str, str], bytes]]


@dataclass
class Fakes:
    """The providers' servers: one answer per out_trade_no, and every request they saw, verified or not."""

    wechat: WechatPayPlatform = field(default_factory=WechatPayPlatform)
    alipay: AlipayPlatform = field(default_factory=AlipayPlatform)
    merchant: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    app: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    answers: dict[str, Handler] = field(default_factory=dict)
    asked: list[tuple[str, bool]] = field(default_factory=list)

    def wechat_handler(self, request: Request) -> Response:
        target = request.full_path.rstrip("?")
        signed = verify_wechatpay_request(
            request.headers.get("Authorization", ""), "GET", target, b"", self.merchant.public_key()
        )
        out_trade_no = unquote(request.path.rsplit("/", 1)[1])
        self.asked.append((out_trade_no, signed and request.args.get("mchid") == WECHATPAY_MCHID))
        if not signed:
            status, headers, body = self.wechat.query_answer(
                401, {"code": "SIGN_ERROR", "message": "签名错误"}, int(time.time())
            )
        else:
            status, headers, body = self.answers[out_trade_no]()
        return Response(body, status=status, headers=headers)

    def alipay_handler(self, request: Request) -> Response:
        params = dict(request.form.items())
        signed = verify_alipay_request(params, self.app.public_key()) and params.get("method") == "alipay.trade.query"
        out_trade_no = re.search(r'"out_trade_no":"([^"]*)"', params.get("biz_content", ""))
        self.asked.append((out_trade_no.group(1) if out_trade_no else "", signed))
        if not signed:
            refusal = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
            return Response(self.alipay.query_answer(refusal), content_type="text/html;charset=utf-8")
        status, headers, body = self.answers[out_trade_no.group(1) if out_trade_no else ""]()
        return Response(body, status=status, headers=headers)


@pytest.fixture(scope="session")
def fakes() -> Fakes:
    return Fakes()


@contextlib.asynccontextmanager
async def configured(api: Api, fakes: Fakes, httpserver: HTTPServer, tmp_path: Path) -> AsyncIterator[Api]:
    httpserver.expect_request(re.compile(r"^/v3/pay/transactions/out-trade-no/.+$")).respond_with_handler(
        fakes.wechat_handler
    )
    httpserver.expect_request("/gateway.do", method="POST").respond_with_handler(fakes.alipay_handler)
    fakes.answers.clear()
    fakes.asked.clear()
    (tmp_path / "merchant.pem").write_bytes(private_pem(fakes.merchant))
    (tmp_path / "app.pem").write_bytes(private_pem(fakes.app))
    core = api.runtime.core
    original = core.settings
    core.settings = original.model_copy(
        update={
            "wechatpay_api_url": httpserver.url_for("/").rstrip("/"),
            "wechatpay_mchid": WECHATPAY_MCHID,
            "wechatpay_appid": WECHATPAY_APPID,
            "wechatpay_merchant_key_path": tmp_path / "merchant.pem",
            "wechatpay_merchant_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            "wechatpay_platform_public_key_path": fakes.wechat.write_public_key(tmp_path / "wechat.pem"),
            "wechatpay_platform_serial": fakes.wechat.serial,
            "wechatpay_apiv3_key": SecretStr(fakes.wechat.apiv3_key),
            "alipay_gateway_url": httpserver.url_for("/gateway.do"),
            "alipay_app_id": ALIPAY_APP_ID,
            "alipay_app_private_key_path": tmp_path / "app.pem",
            "alipay_public_key_path": fakes.alipay.write_public_key(tmp_path / "alipay.pem"),
            "payment_query_timeout_seconds": 2.0,
        }
    )
    try:
        yield api
    finally:
        core.settings = original
        httpserver.clear()


@pytest.fixture
async def providers(api: Api, fakes: Fakes, httpserver: HTTPServer, tmp_path: Path) -> AsyncIterator[Api]:
    async with configured(api, fakes, httpserver, tmp_path) as ready:
        yield ready


async def paid_order(api: Api, creds: Credentials, number: str, channel: str, minutes_ago: int = 30) -> int:
    now = datetime.now(UTC)
    placed = (now - timedelta(minutes=minutes_ago + 5)).isoformat()
    paid = (now - timedelta(minutes=minutes_ago)).isoformat()
    payload = order_input(number, channel=channel, status="PAID", placedAt=placed, paidAt=paid)
    body = await api.gql(SUBMIT_ORDER, {"input": payload}, headers=creds.writer)
    assert body["data"]["submitOrder"]["userErrors"] == [], body
    async with api.runtime.core.sessions() as session:
        return int((await session.exec(select(Order.id).where(Order.channel_order_id == number))).one() or 0)


def wechat_paid(fakes: Fakes, number: str, txn: str, total: int = 9590) -> Handler:
    return lambda: fakes.wechat.query_answer(200, wechat_transaction(number, txn, total), int(time.time()))


def alipay_paid(fakes: Fakes, number: str, trade_no: str, total: str = "95.90") -> Handler:
    response = {
        "code": "10000", "msg": "Success", "trade_no": trade_no, "out_trade_no": number,
        "buyer_logon_id": "159****5620", "trade_status": "TRADE_SUCCESS", "total_amount": total,
        "send_pay_date": "2026-12-07 10:15:40", "buyer_pay_amount": total, "buyer_user_id": "2088101117955611",
    }  # fmt: skip
    return lambda: (200, {"Content-Type": "text/html;charset=utf-8"}, fakes.alipay.query_answer(response))


async def queries_of(api: Api) -> list[PaymentQuery]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(PaymentQuery).order_by(col(PaymentQuery.id)))).all())


async def close_gaps(api: Api) -> dict[str, QueryOutcome]:
    asked = await PaymentQueries(api.runtime.core, api.runtime.relay.notify).close_gaps()
    return {a.gap.out_trade_no: a.outcome for a in asked}


async def test_a_lost_wechat_notification_is_posted_from_the_signed_answer_once(
    providers: Api, creds: Credentials, fakes: Fakes
) -> None:
    oid = await paid_order(providers, creds, "WX-LOST-1", "WECHAT_MINI")
    await paid_order(providers, creds, "WX-FRESH-1", "WECHAT_MINI", minutes_ago=2)  # not late yet: not asked
    fakes.answers["WX-LOST-1"] = wechat_paid(fakes, "WX-LOST-1", "4200000901")
    assert await close_gaps(providers) == {"WX-LOST-1": QueryOutcome.POSTED}
    assert fakes.asked == [("WX-LOST-1", True)]  # the fake checked our WECHATPAY2-SHA256-RSA2048 signature
    async with providers.runtime.core.sessions() as session:
        [voucher] = (await session.exec(select(FundVoucher))).all()
        message = await session.get(InboundMessage, voucher.inbound_message_id)
    assert (voucher.order_id, voucher.amount, voucher.provider_txn_id) == (oid, 9590, "4200000901")
    assert message is not None
    assert (message.source, message.kind, message.signature, message.outcome) == (
        "query:wechatpay", "payment-query", SignatureVerdict.VALID, Outcome.APPLIED
    )  # fmt: skip
    [query] = await queries_of(providers)
    assert (query.reason, query.outcome, query.voucher_id, query.order_id) == (
        "PAID_WITHOUT_VOUCHER", "POSTED", voucher.id, oid
    )  # fmt: skip
    assert await close_gaps(providers) == {}  # closed: never asked again


async def test_bad_answers_have_defined_outcomes_and_are_recorded(
    providers: Api, creds: Credentials, fakes: Fakes
) -> None:
    now = int(time.time())
    cases: dict[str, Handler] = {
        "WX-GONE": lambda: fakes.wechat.query_answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, now),
        "WX-UNPAID": lambda: fakes.wechat.query_answer(
            200, {**wechat_transaction("WX-UNPAID", "x", 9590, state="NOTPAY"), "transaction_id": None}, now
        ),
        "WX-HTML": lambda: (502, {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>"),
        "WX-PAGE": lambda: (200, {"Content-Type": "text/html"}, b"<html><body>login</body></html>"),
        "WX-FORGED": lambda: (200, {**fakes.wechat.sign(b"{}", now), "Content-Type": "application/json"}, FORGED),
        "WX-SHORT": wechat_paid(fakes, "WX-SHORT", "4200000902", total=100),
    }
    ids = {number: await paid_order(providers, creds, number, "WECHAT_MINI") for number in cases}
    fakes.answers.update(cases)
    outcomes = await close_gaps(providers)
    assert outcomes == {
        "WX-GONE": QueryOutcome.NOT_FOUND,
        "WX-UNPAID": QueryOutcome.NOT_PAID,
        "WX-HTML": QueryOutcome.UNAVAILABLE,
        "WX-PAGE": QueryOutcome.BAD_SIGNATURE,  # an unsigned 200 is refused before it is read
        "WX-FORGED": QueryOutcome.BAD_SIGNATURE,
        "WX-SHORT": QueryOutcome.POSTED,
    }
    async with providers.runtime.core.sessions() as session:
        messages = {m.id: m for m in (await session.exec(select(InboundMessage))).all()}
        short = await session.get(Order, ids["WX-SHORT"])
        cases_open = (await session.exec(select(OrderException.kind, OrderException.order_id))).all()
    recorded = {q.out_trade_no: (q.outcome, messages[q.inbound_message_id].outcome if q.inbound_message_id else None)
                for q in await queries_of(providers)}  # fmt: skip
    assert recorded["WX-FORGED"] == ("BAD_SIGNATURE", Outcome.REJECTED)
    assert recorded["WX-GONE"] == ("NOT_FOUND", Outcome.APPLIED)
    assert recorded["WX-HTML"] == ("UNAVAILABLE", Outcome.REJECTED)
    # An underpayment the provider signed is posted as a fact, and the money check still runs on it.
    assert short is not None and short.status == "PAID"
    assert ("PAYMENT_AMOUNT_MISMATCH", ids["WX-SHORT"]) in cases_open
    assert await close_gaps(providers) == {}  # asked once per interval


async def test_a_rate_limit_stops_the_round_for_that_provider(providers: Api, creds: Credentials, fakes: Fakes) -> None:
    for number in ("WX-RL-1", "WX-RL-2"):
        await paid_order(providers, creds, number, "WECHAT_MINI")
        fakes.answers[number] = lambda: (429, {"Content-Type": "application/json"}, b'{"code":"FREQUENCY_LIMITED"}')
    assert await close_gaps(providers) == {"WX-RL-1": QueryOutcome.RATE_LIMITED}
    assert [q.outcome for q in await queries_of(providers)] == ["RATE_LIMITED"]


async def test_missing_in_system_lines_are_closed_and_the_run_reports_it(
    providers: Api, creds: Credentials, fakes: Fakes
) -> None:
    oid = await paid_order(providers, creds, "TB-MISSING-1", "TAOBAO", minutes_ago=1)
    day = datetime.now(UTC) - timedelta(minutes=1)
    data = bank_csv(
        [BillRow(day, "2026120722001400001", "TB-MISSING-1", "PAYMENT", 9590),
         BillRow(day, "2026120722001400002", "TB-NEVER", "PAYMENT", 500)]
    )  # fmt: skip
    async with providers.runtime.core.sessions() as session, session.begin():
        imported = await import_statement(
            session, "alipay.csv", data, parse_statement("alipay.csv", data, provider="alipay"), "finance"
        )
        [run] = await reconcile(session, [imported.statement_id], trigger="test")
    assert run.counts == {"MISSING_IN_SYSTEM": 2}
    fakes.answers["TB-MISSING-1"] = alipay_paid(fakes, "TB-MISSING-1", "2026120722001400001")
    fakes.answers["TB-NEVER"] = lambda: (
        200, {"Content-Type": "text/html;charset=utf-8"},
        fakes.alipay.query_answer({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                                   "sub_msg": "交易不存在", "buyer_pay_amount": "0.00"}),
    )  # fmt: skip
    assert await close_gaps(providers) == {"TB-MISSING-1": QueryOutcome.POSTED, "TB-NEVER": QueryOutcome.NOT_FOUND}
    assert all(signed for _, signed in fakes.asked)
    async with providers.runtime.core.sessions() as session:
        items = {i.provider_txn_id: i for i in (await session.exec(select(ReconItem))).all()}
        [voucher] = (await session.exec(select(FundVoucher))).all()
    assert (voucher.order_id, voucher.amount, voucher.provider) == (oid, 9590, "alipay")
    assert items["2026120722001400001"].resolution == Resolution.EXPLAINED
    assert items["2026120722001400002"].resolution is None
    assert run.id is not None
    report = await providers.gql(
        "query($id: ID!) { node(id: $id) { ... on ReconRun { gapsClosedByQuery drifts { drift count } } } }",
        {"id": encode_gid("ReconRun", run.id)},
        headers=creds.admin,
    )
    assert report["data"]["node"]["gapsClosedByQuery"] == 1, report


async def test_a_timeout_is_unavailable_and_the_gap_stays_open(
    providers: Api, creds: Credentials, fakes: Fakes
) -> None:
    await paid_order(providers, creds, "WX-SLOW", "WECHAT_MINI")

    def slow() -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return wechat_paid(fakes, "WX-SLOW", "4200000903")()

    fakes.answers["WX-SLOW"] = slow
    core = providers.runtime.core
    core.settings = core.settings.model_copy(update={"payment_query_timeout_seconds": 0.3})
    assert await close_gaps(providers) == {"WX-SLOW": QueryOutcome.UNAVAILABLE}
    [query] = await queries_of(providers)
    assert (query.outcome, query.inbound_message_id, query.voucher_id) == ("UNAVAILABLE", None, None)
    assert "Timeout" in query.detail


async def test_money_found_for_a_cancelled_order_is_posted_and_held_for_refund(
    providers: Api, creds: Credentials, fakes: Fakes
) -> None:
    now = datetime.now(UTC)
    times = {"placedAt": (now - timedelta(minutes=40)).isoformat(), "paidAt": (now - timedelta(minutes=30)).isoformat(),
             "cancelledAt": (now - timedelta(minutes=25)).isoformat()}  # fmt: skip
    payload = order_input("WX-CANCELLED", channel="WECHAT_MINI", status="CANCELLED", **times)
    assert (await providers.gql(SUBMIT_ORDER, {"input": payload}, headers=creds.writer))["data"]["submitOrder"][
        "userErrors"
    ] == []
    fakes.answers["WX-CANCELLED"] = wechat_paid(fakes, "WX-CANCELLED", "4200000904")
    assert await close_gaps(providers) == {"WX-CANCELLED": QueryOutcome.POSTED}
    async with providers.runtime.core.sessions() as session:
        order = (await session.exec(select(Order).where(Order.channel_order_id == "WX-CANCELLED"))).one()
        kinds = (await session.exec(select(OrderException.kind).where(OrderException.order_id == order.id))).all()
    assert order.status == "CANCELLED" and list(kinds) == ["PAYMENT_ON_CLOSED_ORDER"]
