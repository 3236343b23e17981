"""Payment notifications over real HTTP, signed and encrypted as the providers do, on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import col, select

from api.graphql.ids import encode_gid
from domain.errors import UserError
from domain.fulfilment.models import OrderException
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.ledger.models import FundVoucher, FundVoucherConflict, OrderAdjustment, VoucherStatus
from domain.ledger.service import received_amount, reverse_voucher
from domain.money import Money
from domain.orders.models import Order
from sim.payment_providers import (
    AlipayPlatform,
    WechatPayPlatform,
    alipay_trade,
    generic_notification,
    wechat_refund,
    wechat_transaction,
)
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

GENERIC_SECRET = "generic-provider-secret"
ORDER_NO = "4102938475610293847"


@dataclass
class Providers:
    wechat: WechatPayPlatform
    alipay: AlipayPlatform


@pytest.fixture(scope="session")
def platforms() -> Providers:
    return Providers(WechatPayPlatform(), AlipayPlatform())


@contextlib.asynccontextmanager
async def providers_configured(api: Api, platforms: Providers, tmp_path: Path, **extra: Any) -> AsyncIterator[Api]:
    """Every provider configured with the platforms' keys (and `extra` settings) for the length of a test."""
    core = api.runtime.core
    original = core.settings
    core.settings = original.model_copy(
        update={
            "wechatpay_platform_public_key_path": platforms.wechat.write_public_key(tmp_path / "wechat.pem"),
            "wechatpay_platform_serial": platforms.wechat.serial,
            "wechatpay_apiv3_key": SecretStr(platforms.wechat.apiv3_key),
            "alipay_public_key_path": platforms.alipay.write_public_key(tmp_path / "alipay.pem"),
            "payment_webhook_secrets": {"lianlian": SecretStr(GENERIC_SECRET)},
            **extra,
        }
    )
    try:
        yield api
    finally:
        core.settings = original


@pytest.fixture
async def pay(api: Api, platforms: Providers, tmp_path: Path) -> AsyncIterator[Api]:
    async with providers_configured(api, platforms, tmp_path) as configured:
        yield configured


async def order_id(api: Api, creds: Credentials) -> int:
    body = await api.gql(SUBMIT_ORDER, {"input": order_input(ORDER_NO)}, headers=creds.writer)
    assert body["data"]["submitOrder"]["userErrors"] == []
    async with api.runtime.core.sessions() as session:
        found = (await session.exec(select(Order.id).where(Order.channel_order_id == ORDER_NO))).one()
    assert found is not None
    return int(found)


async def rows(api: Api, model: type) -> list[Any]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(model).order_by(model.id))).all())  # type: ignore[attr-defined]


async def payment_messages(api: Api) -> list[InboundMessage]:
    return [m for m in await rows(api, InboundMessage) if m.source.startswith("payments:")]


async def post_wechat(api: Api, platforms: Providers, resource: dict[str, Any], **kwargs: Any) -> Any:
    headers, body = platforms.wechat.notification(
        resource, timestamp=kwargs.pop("timestamp", int(time.time())), **kwargs
    )
    return await api.client.post("/payments/wechatpay/notify", content=body, headers=headers)


async def test_wechat_payment_posts_once_and_repeats_answer_success(
    pay: Api, creds: Credentials, platforms: Providers
) -> None:
    oid = await order_id(pay, creds)
    resource = wechat_transaction(ORDER_NO, "4200000001", 10000, coupon=2000)
    for _ in range(3):
        response = await post_wechat(pay, platforms, resource)
        assert response.status_code == 204, response.text
    vouchers = await rows(pay, FundVoucher)
    assert [(v.provider, v.amount, v.status, v.order_id, v.repeats) for v in vouchers] == [
        ("wechatpay", 10000, VoucherStatus.CONFIRMED, oid, 2)
    ]
    assert vouchers[0].raw["promotion_detail"][0]["amount"] == 2000
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(10000, "CNY")]
    messages = await payment_messages(pay)
    assert [(m.signature, m.outcome) for m in messages] == [(SignatureVerdict.VALID, Outcome.APPLIED)] * 3


async def test_wechat_refund_and_pending_then_confirmed(pay: Api, creds: Credentials, platforms: Providers) -> None:
    oid = await order_id(pay, creds)
    pending = wechat_transaction(ORDER_NO, "4200000002", 9590, state="USERPAYING")
    assert (await post_wechat(pay, platforms, pending)).status_code == 204
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == []
    paid = wechat_transaction(ORDER_NO, "4200000002", 9590)
    assert (await post_wechat(pay, platforms, paid)).status_code == 204
    refund = wechat_refund(ORDER_NO, "4200000002", "50300000001", 1590, 9590)
    assert (await post_wechat(pay, platforms, refund, event_type="REFUND.SUCCESS")).status_code == 204
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(8000, "CNY")]
    assert [(v.kind, v.amount) for v in await rows(pay, FundVoucher)] == [("PAYMENT", 9590), ("REFUND", -1590)]


@pytest.mark.parametrize("fault", ["tampered", "wrong_key", "stale", "no_headers", "wrong_apiv3_key"])
async def test_wechat_refusals_are_recorded(pay: Api, platforms: Providers, fault: str) -> None:
    resource = wechat_transaction(ORDER_NO, "4200000003", 100)
    now = int(time.time())
    headers, body = platforms.wechat.notification(resource, timestamp=now - 600 if fault == "stale" else now)
    if fault == "tampered":
        body = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')
    elif fault == "wrong_key":
        headers = WechatPayPlatform(serial=platforms.wechat.serial).sign(body, now)
    elif fault == "no_headers":
        headers = {"Content-Type": "application/json"}
    elif fault == "wrong_apiv3_key":
        other = WechatPayPlatform(key=platforms.wechat.key, serial=platforms.wechat.serial)
        headers, body = other.notification(resource, timestamp=now)
    response = await pay.client.post("/payments/wechatpay/notify", content=body, headers=headers)
    assert response.status_code in (400, 401)
    assert response.json()["code"] == "FAIL"
    assert await rows(pay, FundVoucher) == []
    [message] = await payment_messages(pay)
    assert message.outcome == Outcome.REJECTED and message.error
    expected = {"no_headers": SignatureVerdict.MISSING, "wrong_apiv3_key": SignatureVerdict.VALID}
    assert message.signature == expected.get(fault, SignatureVerdict.INVALID)


async def test_alipay_success_tamper_and_refund(pay: Api, creds: Credentials, platforms: Providers) -> None:
    oid = await order_id(pay, creds)
    url = "/payments/alipay/notify"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = platforms.alipay.notification(alipay_trade(ORDER_NO, "2026112422001", "95.90"))
    for _ in range(2):
        response = await pay.client.post(url, content=body, headers=form)
        assert (response.status_code, response.text) == (200, "success")
    tampered = body.replace(b"total_amount=95.90", b"total_amount=959.0")
    response = await pay.client.post(url, content=tampered, headers=form)
    assert response.status_code == 401 and response.text != "success"
    refund = alipay_trade(ORDER_NO, "2026112422001", "95.90") | {"refund_fee": "15.90", "out_biz_no": "RF1"}
    response = await pay.client.post(url, content=platforms.alipay.notification(refund), headers=form)
    assert response.text == "success"
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(8000, "CNY")]
    messages = await payment_messages(pay)
    assert [m.signature for m in messages] == ["VALID", "VALID", "INVALID", "VALID"]


async def test_generic_conflict_is_recorded_never_applied(pay: Api, creds: Credentials) -> None:
    oid = await order_id(pay, creds)
    url = "/payments/lianlian/notify"
    payload = {"transaction_id": "LL-1", "kind": "payment", "order_ref": ORDER_NO, "amount": "95.90",
               "currency": "CNY", "status": "confirmed", "occurred_at": "2026-11-24T20:15:40+08:00"}  # fmt: skip
    headers, body = generic_notification(GENERIC_SECRET, payload)
    assert (await pay.client.post(url, content=body, headers=headers)).json()["outcome"] == "POSTED"
    assert (await pay.client.post(url, content=body, headers=headers)).json()["outcome"] == "DUPLICATE"
    headers, changed = generic_notification(GENERIC_SECRET, payload | {"amount": "195.90"})
    for _ in range(2):
        assert (await pay.client.post(url, content=changed, headers=headers)).json()["outcome"] == "CONFLICT"
    bad_headers, _ = generic_notification("not-the-secret", payload)
    refused = await pay.client.post(url, content=body, headers=bad_headers)
    assert refused.status_code == 401 and refused.json()["code"] == "FAIL"
    [voucher] = await rows(pay, FundVoucher)
    assert (voucher.amount, voucher.status) == (9590, VoucherStatus.CONFIRMED)
    [conflict] = await rows(pay, FundVoucherConflict)
    assert (conflict.voucher_id, conflict.amount, conflict.repeats) == (voucher.id, 19590, 1)
    assert "amount 9590 != 19590" in conflict.differences
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(9590, "CNY")]
    [exception] = await rows(pay, OrderException)  # one for the conflict, not one per resend
    assert (exception.kind, exception.state, exception.order_id) == ("VOUCHER_CONFLICT", "OPEN", oid)
    assert {k: v for k, v in exception.details.items() if k != "summary"} == {
        "voucher_id": voucher.id, "conflict_id": conflict.id,
    }  # fmt: skip
    case = """query C($id: ID!) { node(id: $id) { ... on OrderException { summary } } }"""
    summaries = [
        (await pay.gql(case, {"id": encode_gid("OrderException", exception.id or 0)},
                       headers={**creds.cs, "Accept-Language": language}))["data"]["node"]["summary"]
        for language in ("en", "zh-CN")
    ]  # fmt: skip
    assert summaries == [
        "lianlian LL-1 (PAYMENT): amount 9590 != 19590",
        "lianlian LL-1（PAYMENT）：金额 9590 与 19590 不符",
    ]


async def test_concurrent_identical_notifications_post_once(pay: Api, creds: Credentials, platforms: Providers) -> None:
    oid = await order_id(pay, creds)
    headers, body = platforms.wechat.notification(
        wechat_transaction(ORDER_NO, "4200000009", 9590), timestamp=int(time.time())
    )
    responses = await asyncio.gather(
        *(pay.client.post("/payments/wechatpay/notify", content=body, headers=headers) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [204] * 20
    [voucher] = await rows(pay, FundVoucher)
    assert voucher.repeats == 19
    assert len(await rows(pay, OrderAdjustment)) == 1
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(9590, "CNY")]
    assert len(await payment_messages(pay)) == 20


async def test_reversal_appends_once_with_who_and_why(pay: Api, creds: Credentials, platforms: Providers) -> None:
    oid = await order_id(pay, creds)
    await post_wechat(pay, platforms, wechat_transaction(ORDER_NO, "4200000010", 9590))
    [voucher] = await rows(pay, FundVoucher)
    assert voucher.id is not None
    async with pay.runtime.core.sessions() as session, session.begin():
        reversal = await reverse_voucher(session, voucher.id, actor="finance@shop.example", reason="double booking")
    assert (reversal.amount, reversal.reverses_id) == (-9590, voucher.id)
    with pytest.raises(UserError) as refused:
        async with pay.runtime.core.sessions() as session, session.begin():
            await reverse_voucher(session, voucher.id, actor="finance@shop.example", reason="again")
    assert refused.value.problems[0].code == "ALREADY_REVERSED"
    adjustments = await rows(pay, OrderAdjustment)
    assert [(a.amount, a.actor, a.reason) for a in adjustments] == [
        (9590, "provider", "payment notified"),
        (-9590, "finance@shop.example", "double booking"),
    ]
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, oid) == [Money(0, "CNY")]
    # The provider repeating itself after the reversal changes nothing.
    assert (await post_wechat(pay, platforms, wechat_transaction(ORDER_NO, "4200000010", 9590))).status_code == 204
    assert len(await rows(pay, OrderAdjustment)) == 2


async def test_payment_of_a_grouped_duplicate_attaches_to_the_parent(pay: Api, creds: Credentials) -> None:
    """A buyer who tapped twice pays on the child's channel number; the money belongs to the group."""
    parent = await pay.gql(SUBMIT_ORDER, {"input": order_input("GROUP-PARENT")}, headers=creds.writer)
    child = await pay.gql(SUBMIT_ORDER, {"input": order_input("TAP-2")}, headers=creds.writer)
    parent_id, child_id = (int(r["data"]["submitOrder"]["order"]["id"].rsplit("/", 1)[1]) for r in (parent, child))
    async with pay.runtime.core.sessions() as session, session.begin():
        await session.exec(update(Order).where(col(Order.id) == child_id).values(parent_order_id=parent_id))
    payload = {"transaction_id": "LL-9", "kind": "payment", "order_ref": "TAP-2", "amount": "95.90",
               "currency": "CNY", "status": "confirmed", "occurred_at": "2026-11-24T20:15:40+08:00"}  # fmt: skip
    headers, body = generic_notification(GENERIC_SECRET, payload)
    response = await pay.client.post("/payments/lianlian/notify", content=body, headers=headers)
    assert response.json()["outcome"] == "POSTED"
    [voucher] = await rows(pay, FundVoucher)
    assert voucher.order_id == parent_id
    async with pay.runtime.core.sessions() as session:
        assert await received_amount(session, parent_id) == [Money(9590, "CNY")]
        assert await received_amount(session, child_id) == []
