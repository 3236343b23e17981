"""A signed notification is a fact, not a command: only a payment equal to what is due pays an order.

Real HTTP in the providers' wire formats with real RSA signatures, on both databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from sqlalchemy import update
from sqlmodel import select

from domain.fulfilment.models import OrderException
from domain.intake.models import Outcome, SignatureVerdict
from domain.ledger.models import FundVoucher, OrderAdjustment
from domain.ledger.service import received_amount
from domain.money import Money
from domain.orders.models import Order, OrderEvent
from sim.payment_providers import (
    ALIPAY_APP_ID,
    ALIPAY_SELLER_ID,
    WECHATPAY_APPID,
    WECHATPAY_MCHID,
    AlipayPlatform,
    WechatPayPlatform,
    alipay_trade,
    generic_notification,
    wechat_transaction,
)
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.test_payments import (
    GENERIC_SECRET,
    ORDER_NO,
    Providers,
    order_id,
    payment_messages,
    post_wechat,
    providers_configured,
    rows,
)

ALIPAY = "/payments/alipay/notify"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MONEY = """query M($id: ID!) { order(id: $id) { status money {
  amountDue { amount currencyCode } amountReceived { amount currencyCode } balance { amount currencyCode }
  receivedInOtherCurrencies { amount currencyCode } } } }"""
STAFF_MONEY = """query M($id: ID!) { order(id: $id) { money {
  vouchers(first: 10) { nodes { provider providerTransactionId kind amount { amount currencyCode } orderId } }
  adjustments(first: 10) { nodes { amount { amount } actor reason } } } } }"""
REATTACH = """mutation R($input: ReattachVoucherInput!) {
  reattachVoucher(input: $input) { voucher { orderId providerTransactionId } userErrors { field code } } }"""
SUSPENSE = "query { suspenseVouchers(first: 10) { nodes { id providerTransactionId orderRef } } }"
CASE = """query C($id: ID!) { node(id: $id) { ... on OrderException { resolution } } }"""


@pytest.fixture(scope="module")
def providers() -> Providers:
    return Providers(WechatPayPlatform(), AlipayPlatform())


@pytest.fixture
async def merchant(api: Api, providers: Providers, tmp_path: Path) -> AsyncIterator[Api]:
    """Every provider configured, with this merchant's own ids at WeChat Pay and Alipay as the sim names them."""
    ids = {"wechatpay_mchid": WECHATPAY_MCHID, "wechatpay_appid": WECHATPAY_APPID,
           "alipay_seller_id": ALIPAY_SELLER_ID, "alipay_app_id": ALIPAY_APP_ID}  # fmt: skip
    async with providers_configured(api, providers, tmp_path, **ids) as configured:
        yield configured


async def status_of(api: Api, oid: int) -> str:
    async with api.runtime.core.sessions() as session:
        order = await session.get(Order, oid)
    assert order is not None
    return order.status


async def exceptions(api: Api) -> list[tuple[str, int | None]]:
    return [(e.kind, e.order_id) for e in await rows(api, OrderException)]


async def post_alipay(api: Api, providers: Providers, fields: dict[str, str], charset: str = "utf-8") -> Any:
    return await api.client.post(ALIPAY, content=providers.alipay.notification(fields, charset), headers=FORM)


def gid(kind: str, key: int) -> str:
    return f"gid://orderhub/{kind}/{key}"


async def test_exact_payment_pays_the_order_once(merchant: Api, creds: Credentials, providers: Providers) -> None:
    oid = await order_id(merchant, creds)
    for _ in range(2):
        assert (
            await post_wechat(merchant, providers, wechat_transaction(ORDER_NO, "4200000101", 9590))
        ).status_code == 204
    assert await status_of(merchant, oid) == "PAID"
    assert await exceptions(merchant) == []
    async with merchant.runtime.core.sessions() as session:
        events = (await session.exec(select(OrderEvent).where(OrderEvent.order_id == oid))).all()
        order = await session.get(Order, oid)
    paid = [e for e in events if e.type == "ORDER_PAID"]
    assert [(e.source, e.actor) for e in paid] == [("SYSTEM", "provider:wechatpay")]
    assert order is not None and order.paid_at is not None


async def test_underpayment_is_posted_but_does_not_pay(merchant: Api, creds: Credentials, providers: Providers) -> None:
    oid = await order_id(merchant, creds)
    response = await post_wechat(merchant, providers, wechat_transaction(ORDER_NO, "4200000102", 1))
    assert response.status_code == 204
    [voucher] = await rows(merchant, FundVoucher)
    assert (voucher.amount, voucher.order_id) == (1, oid)
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    [exception] = await rows(merchant, OrderException)
    assert (exception.kind, exception.order_id) == ("PAYMENT_AMOUNT_MISMATCH", oid)
    assert exception.details["actions"] == ["REFUND"] and exception.details["voucher_id"] == voucher.id
    assert "underpaid: due 95.90 CNY, received 0.01 CNY" in exception.summary
    # the rest of the money arrives: what is received now equals what is due, and the order is paid
    assert (await post_wechat(merchant, providers, wechat_transaction(ORDER_NO, "4200000103", 9589))).status_code == 204
    assert await status_of(merchant, oid) == "PAID"
    assert len(await rows(merchant, OrderException)) == 1


async def test_overpayment_on_alipay_does_not_pay(merchant: Api, creds: Credentials, providers: Providers) -> None:
    oid = await order_id(merchant, creds)
    response = await post_alipay(merchant, providers, alipay_trade(ORDER_NO, "2026112422101", "959.00"))
    assert (response.status_code, response.text) == (200, "success")
    [voucher] = await rows(merchant, FundVoucher)
    assert (voucher.amount, voucher.order_id) == (95900, oid)
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    [exception] = await rows(merchant, OrderException)
    assert exception.kind == "PAYMENT_AMOUNT_MISMATCH" and "overpaid" in exception.summary


async def test_payment_in_another_currency_does_not_pay(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
) -> None:
    oid = await order_id(merchant, creds)
    resource = wechat_transaction(ORDER_NO, "4200000104", 9590, currency="USD")
    assert (await post_wechat(merchant, providers, resource)).status_code == 204
    [voucher] = await rows(merchant, FundVoucher)
    assert (voucher.amount, voucher.currency, voucher.order_id) == (9590, "USD", oid)
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    assert await exceptions(merchant) == [("PAYMENT_CURRENCY_MISMATCH", oid)]
    async with merchant.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(9590, "USD")]


async def test_payment_on_a_cancelled_order_stays_cancelled(merchant: Api, creds: Credentials) -> None:
    placed = order_input(ORDER_NO, status="CANCELLED", cancelledAt="2026-11-24T20:30:00+08:00")
    body = await merchant.gql(SUBMIT_ORDER, {"input": placed}, headers=creds.writer)
    oid = int(body["data"]["submitOrder"]["order"]["id"].rsplit("/", 1)[1])
    payload = {"transaction_id": "LL-201", "kind": "payment", "order_ref": ORDER_NO, "amount": "95.90",
               "currency": "CNY", "status": "confirmed", "occurred_at": "2026-11-24T20:45:00+08:00"}  # fmt: skip
    headers, raw = generic_notification(GENERIC_SECRET, payload)
    response = await merchant.client.post("/payments/lianlian/notify", content=raw, headers=headers)
    assert response.json() == {"code": "SUCCESS", "outcome": "POSTED"}
    [voucher] = await rows(merchant, FundVoucher)
    assert voucher.order_id == oid
    assert await status_of(merchant, oid) == "CANCELLED"
    assert await exceptions(merchant) == [("PAYMENT_ON_CLOSED_ORDER", oid)]


async def test_payment_for_an_unknown_order_waits_in_suspense_until_reattached(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
) -> None:
    response = await post_alipay(merchant, providers, alipay_trade("NO-SUCH-ORDER", "2026112422102", "95.90"))
    assert (response.status_code, response.text) == (200, "success")
    [voucher] = await rows(merchant, FundVoucher)
    assert voucher.id is not None and voucher.order_id is None
    assert await exceptions(merchant) == [("UNMATCHED_PAYMENT", None)]
    [exception] = await rows(merchant, OrderException)
    assert exception.details["actions"] == ["REATTACH", "REFUND"]
    suspense = await merchant.gql(SUSPENSE, headers=creds.admin)
    assert suspense["data"]["suspenseVouchers"]["nodes"] == [
        {"id": gid("FundVoucher", voucher.id), "providerTransactionId": "2026112422102", "orderRef": "NO-SUCH-ORDER"}
    ]

    oid = await order_id(merchant, creds)
    variables = {"input": {"voucherId": gid("FundVoucher", voucher.id), "orderId": gid("Order", oid),
                           "reason": "buyer paid with the old order number"}}  # fmt: skip
    denied = await merchant.gql(REATTACH, variables, headers=creds.cs)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = await merchant.gql(REATTACH, variables, headers=creds.admin)
    assert done["data"]["reattachVoucher"] == {
        "voucher": {"orderId": gid("Order", oid), "providerTransactionId": "2026112422102"},
        "userErrors": [],
    }
    assert await status_of(merchant, oid) == "PAID"
    [resolved] = await rows(merchant, OrderException)
    assert (resolved.state, resolved.resolver) == ("RESOLVED", "admin@shop.example")
    again = await merchant.gql(REATTACH, variables, headers=creds.admin)
    assert again["data"]["reattachVoucher"]["userErrors"] == [
        {"field": ["input", "voucherId"], "code": "NOT_IN_SUSPENSE"}
    ]
    assert [(a.amount, a.actor) for a in await rows(merchant, OrderAdjustment)] == [(9590, "admin@shop.example")]
    assert (await merchant.gql(SUSPENSE, headers=creds.admin))["data"]["suspenseVouchers"]["nodes"] == []

    async def read(language: str) -> tuple[str, str]:
        """orderhub's words around the person's reason, in the caller's language; the reason as typed."""
        headers = {**creds.admin, "Accept-Language": language}
        money = await merchant.gql(STAFF_MONEY, {"id": gid("Order", oid)}, headers=headers)
        case = await merchant.gql(CASE, {"id": gid("OrderException", resolved.id or 0)}, headers=headers)
        [adjustment] = money["data"]["order"]["money"]["adjustments"]["nodes"]
        return adjustment["reason"], case["data"]["node"]["resolution"]

    assert await read("en") == (
        "re-attached: buyer paid with the old order number",
        f"re-attached to order {oid}: buyer paid with the old order number",
    )
    assert await read("zh-CN") == (
        "重新挂接：buyer paid with the old order number",
        f"已重新挂接到订单 {oid}：buyer paid with the old order number",
    )
    assert resolved.resolution == f"re-attached to order {oid}: buyer paid with the old order number"  # English kept
    async with merchant.runtime.core.sessions() as session, session.begin():  # written before sentences were kept
        await session.exec(update(OrderAdjustment).values(sentences=None))
        await session.exec(update(OrderException).values(details={}))
    assert await read("zh-CN") == await read("en")


async def test_reattaching_checks_the_order_like_a_notification(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
) -> None:
    await post_wechat(merchant, providers, wechat_transaction("TYPO-1", "4200000105", 100))
    [voucher] = await rows(merchant, FundVoucher)
    oid = await order_id(merchant, creds)
    variables = {"input": {"voucherId": gid("FundVoucher", voucher.id or 0), "orderId": gid("Order", oid),
                           "reason": "typo in the order number"}}  # fmt: skip
    assert (await merchant.gql(REATTACH, variables, headers=creds.admin))["data"]["reattachVoucher"]["userErrors"] == []
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    kinds = sorted(await exceptions(merchant), key=str)
    assert kinds == [("PAYMENT_AMOUNT_MISMATCH", oid), ("UNMATCHED_PAYMENT", None)]


@pytest.mark.parametrize(
    "fault",
    ["other_mchid", "other_appid", "not_iso_currency", "negative_amount"],
)
async def test_wechat_refuses_what_is_not_this_merchants_money(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
    fault: str,
) -> None:
    oid = await order_id(merchant, creds)
    resource = {
        "other_mchid": wechat_transaction(ORDER_NO, "4200000106", 9590, mchid="1900000109"),
        "other_appid": wechat_transaction(ORDER_NO, "4200000106", 9590, appid="wxd678efh567hg6787"),
        "not_iso_currency": wechat_transaction(ORDER_NO, "4200000106", 9590, currency="RMB"),
        "negative_amount": wechat_transaction(ORDER_NO, "4200000106", -9590),
    }[fault]
    response = await post_wechat(merchant, providers, resource)
    assert response.status_code == 400 and response.json()["code"] == "FAIL", response.text
    assert await rows(merchant, FundVoucher) == []
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    assert await exceptions(merchant) == []
    [message] = await payment_messages(merchant)
    assert (message.signature, message.outcome) == (SignatureVerdict.VALID, Outcome.REJECTED)


@pytest.mark.parametrize("field", ["seller_id", "app_id"])
async def test_alipay_refuses_another_merchants_notice(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
    field: str,
) -> None:
    oid = await order_id(merchant, creds)
    fields = alipay_trade(ORDER_NO, "2026112422103", "95.90") | {field: "2088000000000001"}
    response = await post_alipay(merchant, providers, fields)
    assert response.status_code == 400 and response.text != "success" and field in response.text
    assert await rows(merchant, FundVoucher) == []
    assert await status_of(merchant, oid) == "PENDING_PAYMENT"
    [message] = await payment_messages(merchant)
    assert message.outcome == Outcome.REJECTED


async def test_alipay_gbk_notification_verifies_and_pays(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
) -> None:
    oid = await order_id(merchant, creds)
    fields = alipay_trade(ORDER_NO, "2026112422104", "95.90") | {"body": "明前龙井 250g，玻璃杯"}
    body = providers.alipay.notification(fields, "GBK")
    assert "明前龙井".encode("gbk") in unquote_to_bytes(body)
    response = await merchant.client.post(ALIPAY, content=body, headers=FORM)
    assert (response.status_code, response.text) == (200, "success")
    [voucher] = await rows(merchant, FundVoucher)
    assert voucher.raw["subject"] == "明前龙井" and voucher.raw["body"] == "明前龙井 250g，玻璃杯"
    assert await status_of(merchant, oid) == "PAID"


async def test_alipay_refund_with_milliseconds_is_posted(
    merchant: Api,
    creds: Credentials,
    providers: Providers,
) -> None:
    oid = await order_id(merchant, creds)
    assert (await post_alipay(merchant, providers, alipay_trade(ORDER_NO, "2026112422105", "95.90"))).text == "success"
    refund = alipay_trade(ORDER_NO, "2026112422105", "95.90", status="TRADE_CLOSED") | {
        "refund_fee": "95.90", "out_biz_no": "RF-2", "gmt_refund": "2026-11-25 10:11:12.345",
    }  # fmt: skip
    response = await post_alipay(merchant, providers, refund)
    assert (response.status_code, response.text) == (200, "success")
    _, posted = await rows(merchant, FundVoucher)
    assert (posted.kind, posted.amount) == ("REFUND", -9590)
    assert posted.provider_time is not None and posted.provider_time.microsecond == 345000
    async with merchant.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(0, "CNY")]


async def test_order_money_over_graphql(merchant: Api, creds: Credentials, providers: Providers) -> None:
    body = await merchant.gql(SUBMIT_ORDER, {"input": order_input(ORDER_NO)}, headers=creds.writer)
    order = body["data"]["submitOrder"]["order"]
    await post_wechat(merchant, providers, wechat_transaction(ORDER_NO, "4200000107", 9000))
    await post_wechat(merchant, providers, wechat_transaction(ORDER_NO, "4200000108", 500, currency="USD"))
    buyer = creds.customer(merchant.runtime, order["buyerUid"])
    seen = (await merchant.gql(MONEY, {"id": order["id"]}, headers=buyer))["data"]["order"]
    assert seen == {
        "status": "PENDING_PAYMENT",
        "money": {
            "amountDue": {"amount": "95.90", "currencyCode": "CNY"},
            "amountReceived": {"amount": "90.00", "currencyCode": "CNY"},
            "balance": {"amount": "5.90", "currencyCode": "CNY"},
            "receivedInOtherCurrencies": [{"amount": "5.00", "currencyCode": "USD"}],
        },
    }
    hidden = await merchant.gql(STAFF_MONEY, {"id": order["id"]}, headers=buyer)
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stranger = creds.customer(merchant.runtime, "another-buyer")
    assert (await merchant.gql(MONEY, {"id": order["id"]}, headers=stranger))["data"]["order"] is None
    staff = (await merchant.gql(STAFF_MONEY, {"id": order["id"]}, headers=creds.cs))["data"]["order"]["money"]
    assert staff["vouchers"]["nodes"] == [
        {"provider": "wechatpay", "providerTransactionId": "4200000107", "kind": "PAYMENT",
         "amount": {"amount": "90.00", "currencyCode": "CNY"}, "orderId": order["id"]},
        {"provider": "wechatpay", "providerTransactionId": "4200000108", "kind": "PAYMENT",
         "amount": {"amount": "5.00", "currencyCode": "USD"}, "orderId": order["id"]},
    ]  # fmt: skip
    assert [a["reason"] for a in staff["adjustments"]["nodes"]] == ["payment notified"] * 2
    chinese = await merchant.gql(STAFF_MONEY, {"id": order["id"]}, headers={**creds.cs, "Accept-Language": "zh-CN"})
    assert [a["reason"] for a in chinese["data"]["order"]["money"]["adjustments"]["nodes"]] == ["收到付款通知"] * 2


async def test_two_halves_arriving_together_pay_the_order_once(
    merchant: Api, creds: Credentials, providers: Providers
) -> None:
    """Each half is checked against a received sum that includes the other: one of them completes the order."""
    oid = await order_id(merchant, creds)
    halves = [wechat_transaction(ORDER_NO, f"420000020{n}", 4795) for n in (1, 2)]
    responses = await asyncio.gather(*(post_wechat(merchant, providers, half) for half in halves))
    assert [r.status_code for r in responses] == [204, 204]
    assert await status_of(merchant, oid) == "PAID"
    assert await exceptions(merchant) == [("PAYMENT_AMOUNT_MISMATCH", oid)]
