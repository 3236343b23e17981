"""Alipay's asynchronous notification as published (trade_status_sync), signed here with a real RSA key."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.intake.models import SignatureVerdict
from domain.ledger.models import VoucherKind
from domain.ledger.providers import alipay
from domain.ledger.providers.verdict import CHINA, NoticeRejected, china_time
from sim.payment_providers import AlipayPlatform

# The fields of Alipay's published notification example, in their order on the wire.
PUBLISHED = {
    "gmt_create": "2024-09-11 17:13:07",
    "charset": "UTF-8",
    "gmt_payment": "2024-09-11 17:13:14",
    "notify_time": "2024-09-11 17:13:15",
    "subject": "ceshi",
    "buyer_id": "2088722033871957",
    "invoice_amount": "460.00",
    "version": "1.0",
    "notify_id": "2024091101222171314071950503863083",
    "fund_bill_list": '[{"amount":"460.00","fundChannel":"ALIPAYACCOUNT"}]',
    "notify_type": "trade_status_sync",
    "out_trade_no": "N202404181780861744366403007",
    "total_amount": "460.00",
    "trade_status": "TRADE_SUCCESS",
    "trade_no": "2024091122001471950503864977",
    "auth_app_id": "9021000136624944",
    "receipt_amount": "460.00",
    "point_amount": "0.00",
    "buyer_pay_amount": "460.00",
    "app_id": "9021000136624944",
    "seller_id": "2088721033871945",
}


@pytest.fixture(scope="module")
def platform() -> AlipayPlatform:
    return AlipayPlatform(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_published_example_verifies_and_parses(platform: AlipayPlatform) -> None:
    fields = alipay.form_fields(platform.notification(PUBLISHED, "UTF-8"))
    assert alipay.check_signature(fields, platform.key.public_key()).verdict is SignatureVerdict.VALID
    notice = alipay.parse_notification(fields)
    assert notice is not None
    assert (notice.kind, notice.amount, notice.currency) == (VoucherKind.PAYMENT, 46000, "CNY")
    assert notice.payee == {"seller_id": "2088721033871945", "app_id": "9021000136624944"}
    assert notice.provider_time == datetime(2024, 9, 11, 17, 13, 14, tzinfo=CHINA)


@pytest.mark.parametrize("charset", ["GBK", "gbk", "GB2312"])
def test_gbk_form_is_decoded_with_its_declared_charset_before_verifying(platform: AlipayPlatform, charset: str) -> None:
    fields = PUBLISHED | {"subject": "明前龙井 250g", "body": "绿茶，春茶"}
    wire = platform.notification(fields, charset)
    parsed = alipay.form_fields(wire)
    assert parsed["subject"] == "明前龙井 250g" and parsed["body"] == "绿茶，春茶"
    assert alipay.check_signature(parsed, platform.key.public_key()).verdict is SignatureVerdict.VALID
    tampered = alipay.form_fields(
        wire.replace(quote("明前".encode("gbk")).encode(), quote("雨前".encode("gbk")).encode())
    )
    assert alipay.check_signature(tampered, platform.key.public_key()).verdict is SignatureVerdict.INVALID


def test_unknown_charset_is_refused() -> None:
    with pytest.raises(NoticeRejected):
        alipay.form_fields(b"charset=klingon&trade_no=1")


def test_refund_time_with_milliseconds() -> None:
    refund = PUBLISHED | {"refund_fee": "60.00", "out_biz_no": "RF-1", "gmt_refund": "2024-01-02 10:11:12.345"}
    notice = alipay.parse_notification(refund)
    assert notice is not None and notice.kind is VoucherKind.REFUND and notice.amount == -6000
    assert notice.provider_time == datetime(2024, 1, 2, 10, 11, 12, 345000, tzinfo=CHINA)
    assert china_time("2024-09-11 17:13:14") == datetime(2024, 9, 11, 17, 13, 14, tzinfo=CHINA)
