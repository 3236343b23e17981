"""The outbound wire formats without a server: payment query requests and answers, Kuaidi100 pushes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from domain.fulfilment.kuaidi100 import PushRejected, check_push, parse_push, push_sign, subscribed
from domain.intake.models import SignatureVerdict
from domain.ledger.providers import alipay_query, wechatpay_query
from domain.ledger.providers.answer import QueryOutcome
from sim.payment_providers import AlipayPlatform, verify_alipay_request, verify_wechatpay_request

KEY = rsa.generate_private_key(65537, 2048)


def test_wechatpay_authorization_signs_method_path_time_nonce_and_body() -> None:
    target = wechatpay_query.query_target("ORDER 1/2", "1230000109")
    assert target == "/v3/pay/transactions/out-trade-no/ORDER%201%2F2?mchid=1230000109"
    header = wechatpay_query.authorization(KEY, "1230000109", "SERIAL", "GET", target, b"", 1700000000, "abc")
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="abc",signature="')
    assert header.endswith('timestamp="1700000000",serial_no="SERIAL"')
    assert verify_wechatpay_request(header, "GET", target, b"", KEY.public_key())
    assert not verify_wechatpay_request(header, "GET", target + "x", b"", KEY.public_key())


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"trade_state": "NOTPAY", "out_trade_no": "A"}, QueryOutcome.NOT_PAID),
        (200, {"trade_state": "CLOSED", "out_trade_no": "A"}, QueryOutcome.NOT_PAID),
        (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, QueryOutcome.NOT_FOUND),
        (429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, QueryOutcome.RATE_LIMITED),
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, QueryOutcome.UNAVAILABLE),
        (400, {"code": "PARAM_ERROR", "message": "参数错误"}, QueryOutcome.REFUSED),
        (200, {"trade_state": "SUCCESS", "amount": {"total": 1}}, QueryOutcome.MALFORMED),  # no transaction_id
    ],
)
def test_wechatpay_answers_read_to_defined_outcomes(status: int, body: dict[str, object], outcome: str) -> None:
    assert wechatpay_query.read_answer(status, json.dumps(body).encode()).outcome == outcome


def test_wechatpay_html_page_is_malformed() -> None:
    assert wechatpay_query.read_answer(200, b"<html>oops</html>").outcome == QueryOutcome.MALFORMED


def test_alipay_request_is_signed_with_sign_type_included() -> None:
    params = alipay_query.query_params("2021", "T-1", KEY, datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC))
    assert params["timestamp"] == "2026-12-07 09:02:03"  # Beijing time
    assert json.loads(params["biz_content"]) == {"out_trade_no": "T-1"}
    assert verify_alipay_request(params, KEY.public_key())
    assert not verify_alipay_request({**params, "sign_type": "RSA"}, KEY.public_key())


def test_alipay_answer_signature_covers_the_exact_text_sent() -> None:
    platform = AlipayPlatform()
    text = (
        '{ "code":"10000", "msg":"Success", "trade_no":"2026", "out_trade_no":"T-1", "total_amount":"88.88",\n'
        ' "trade_status":"TRADE_SUCCESS", "subject":"明前龙井" }'
    )
    sign = base64.b64encode(platform.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    body = f'{{"alipay_trade_query_response" : {text} ,"sign":"{sign}"}}'.encode()
    key = platform.key.public_key()
    assert alipay_query.check_signature(200, body, key).verdict is SignatureVerdict.VALID
    tampered = body.replace(b"88.88", b"99.99")
    assert alipay_query.check_signature(200, tampered, key).verdict is SignatureVerdict.INVALID
    unsigned = platform.query_answer({"code": "10000", "trade_status": "TRADE_SUCCESS"}, signed=False)
    assert alipay_query.check_signature(200, unsigned, key).verdict is SignatureVerdict.MISSING
    reading = alipay_query.read_answer(200, body)
    assert reading.notice is not None and (reading.notice.amount, reading.notice.order_ref) == (8888, "T-1")
    assert alipay_query.read_answer(200, b"<html>502</html>").outcome == QueryOutcome.MALFORMED


def test_kuaidi100_push_is_checked_and_each_entry_is_one_event() -> None:
    param = json.dumps(
        {"status": "polling", "lastResult": {"com": "yuantong", "nu": "YT1", "data": [
            {"context": "已签收", "ftime": "2026-12-07 12:00:00", "status": "签收"},
            {"context": "到达", "ftime": "2026-12-07 08:00:00", "status": "在途"},
            {"context": "已揽收", "ftime": "2026-12-06 20:00:00", "status": "揽收"}]}},
        ensure_ascii=False,
    )  # fmt: skip
    check_push({"param": param, "sign": push_sign(param, "salt").lower()}, "salt")  # case does not matter
    with pytest.raises(PushRejected):
        check_push({"param": param, "sign": push_sign(param, "other")}, "salt")
    push = parse_push(param, {"yuantong": "YTO"})
    assert [(e.action, e.carrier_code, e.occurred_at.astimezone(UTC).hour) for e in push.events] == [
        ("DELIVERED", "YTO", 4), ("IN_TRANSIT", "YTO", 0), ("PICKED_UP", "YTO", 12)
    ]  # fmt: skip
    assert len({e.event_id for e in push.events}) == 3 and not push.gave_up
    with pytest.raises(PushRejected):
        parse_push('{"lastResult": {"nu": "YT1", "data": [{"ftime": "yesterday"}]}}', {})
    repeated = '{"result":false,"returnCode":"501","message":"重复订阅"}'.encode()
    assert subscribed(repeated) == (True, "501 重复订阅")
    assert subscribed(b"<html>")[0] is False
