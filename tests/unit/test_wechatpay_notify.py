"""WeChat Pay API v3 notifications as published, encrypted and signed here with real keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.providers import wechatpay
from sim.payment_providers import WechatPayPlatform

CHINA = timezone(timedelta(hours=8))

# The decrypted resource of WeChat Pay's published payment notification example.
PUBLISHED_TRANSACTION = {
    "transaction_id": "1217752501201407033233368018",
    "amount": {"payer_total": 100, "total": 100, "currency": "CNY", "payer_currency": "CNY"},
    "mchid": "1230000109",
    "trade_state": "SUCCESS",
    "bank_type": "CMC",
    "promotion_detail": [
        {"amount": 100, "wechatpay_contribute": 0, "coupon_id": "109519", "scope": "GLOBAL", "merchant_contribute": 0,
         "name": "单品惠-6", "other_contribute": 0, "currency": "CNY", "stock_id": "931386", "type": "CASH"}
    ],
    "success_time": "2018-06-08T10:34:56+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "out_trade_no": "1217752501201407033233368018",
    "appid": "wxd678efh567hg6787",
    "trade_state_desc": "支付成功",
    "trade_type": "MICROPAY",
    "attach": "自定义数据",
    "scene_info": {"device_id": "013467007045764"},
}  # fmt: skip

# The decrypted resource of the published refund notification example.
PUBLISHED_REFUND = {
    "mchid": "1900000100",
    "transaction_id": "1008450740201411110005820873",
    "out_trade_no": "20150806125346",
    "refund_id": "50200207182018070300011301001",
    "out_refund_no": "7752501201407033233368018",
    "refund_status": "SUCCESS",
    "success_time": "2018-06-08T10:34:56+08:00",
    "user_received_account": "招商银行信用卡0403",
    "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999},
}


def test_published_payment_verifies_decrypts_and_names_its_payee() -> None:
    platform = WechatPayPlatform()
    now = int(time.time())
    headers, body = platform.notification(PUBLISHED_TRANSACTION, timestamp=now)
    checked = wechatpay.check_signature(
        headers, body, platform.key.public_key(), platform.serial, datetime.fromtimestamp(now, UTC), 300
    )
    assert checked.verdict is SignatureVerdict.VALID
    notice = wechatpay.parse_notification(body, platform.apiv3_key.encode())
    assert notice is not None
    assert (notice.kind, notice.status, notice.amount, notice.currency) == (
        VoucherKind.PAYMENT, VoucherStatus.CONFIRMED, 100, "CNY",
    )  # fmt: skip
    assert notice.payee == {"mchid": "1230000109", "appid": "wxd678efh567hg6787"}
    assert notice.provider_time == datetime(2018, 6, 8, 10, 34, 56, tzinfo=CHINA)


def test_published_refund_names_only_the_merchant() -> None:
    platform = WechatPayPlatform()
    _, body = platform.notification(PUBLISHED_REFUND, event_type="REFUND.SUCCESS", timestamp=int(time.time()))
    notice = wechatpay.parse_notification(body, platform.apiv3_key.encode())
    assert notice is not None
    assert (notice.kind, notice.amount, notice.provider_txn_id) == (
        VoucherKind.REFUND, -999, "50200207182018070300011301001",
    )  # fmt: skip
    assert notice.payee == {"mchid": "1900000100"}
