"""Each channel's signing, written out here by hand from the published rule, and what each of its answers means."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl

import pytest

from domain.channels import amazon_api, douyin_api, taobao_api, wechat_channels_api
from domain.confirmations.answer import Answer, Reply, Verdict, delay_seconds, retry_after
from domain.confirmations.parcel import Parcel, ParcelLine
from domain.confirmations.service import pick_shop
from domain.intake.vault import Vault
from domain.shops.credentials import Credentials, fingerprint, open_sealed, seal
from domain.shops.models import Shop

NOW = datetime(2026, 12, 7, 6, 30, 5, tzinfo=UTC)  # 14:30:05 in Beijing
KEYS = Credentials(app_key="12345678", app_secret="helloworld", access_token="tok-1", marketplace_id="A1VC38T7YXB528")
PARCEL = Parcel("4102938475610293847", "SF1402938475612", "SF", NOW, (ParcelLine("SKU-TEA-001", 1),))


def reply(status: int, body: object | bytes, **headers: str) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return Reply(status, {k.replace("_", "-"): v for k, v in headers.items()}, data)


def test_top_md5_signature_is_the_secret_around_the_sorted_pairs() -> None:
    params = {"method": "taobao.logistics.offline.send", "app_key": "12345678", "v": "2.0", "tid": "1"}
    text = "helloworld" + "app_key12345678" + "methodtaobao.logistics.offline.send" + "tid1" + "v2.0" + "helloworld"
    assert taobao_api.sign(params, "helloworld") == hashlib.md5(text.encode()).hexdigest().upper()
    keyed = hmac.new(b"helloworld", text[10:-10].encode(), hashlib.md5).hexdigest().upper()
    assert taobao_api.sign(params, "helloworld", "hmac") == keyed


def test_top_offline_send_is_a_signed_form_in_beijing_time() -> None:
    request = taobao_api.confirm_shipment(PARCEL, KEYS, NOW)
    form = dict(parse_qsl(request.body.decode()))
    assert (request.method, request.path) == ("POST", "/router/rest")
    assert form["timestamp"] == "2026-12-07 14:30:05"
    assert (form["tid"], form["out_sid"], form["company_code"], form["session"]) == (
        "4102938475610293847", "SF1402938475612", "SF", "tok-1",
    )  # fmt: skip
    unsigned = {k: v for k, v in form.items() if k != "sign"}
    text = "helloworld" + "".join(k + v for k, v in sorted(unsigned.items())) + "helloworld"
    assert form["sign"] == hashlib.md5(text.encode()).hexdigest().upper()


def test_douyin_signature_and_param_json() -> None:
    request = douyin_api.confirm_shipment(PARCEL, KEYS, NOW)
    query = dict(request.params)
    body = request.body.decode()
    assert body == '{"company_code":"shunfeng","logistics_code":"SF1402938475612","order_id":"4102938475610293847"}'
    text = (
        "helloworld" "app_key12345678" "methodorder.logisticsAdd" f"param_json{body}"
        "timestamp2026-12-07 14:30:05" "v2" "helloworld"
    )  # fmt: skip
    assert query["sign"] == hmac.new(b"helloworld", text.encode(), hashlib.sha256).hexdigest()
    assert (request.path, query["access_token"], query["sign_method"]) == (
        "/order/logisticsAdd",
        "tok-1",
        "hmac-sha256",
    )


def test_wechat_and_amazon_carry_their_tokens() -> None:
    wechat = wechat_channels_api.confirm_shipment(PARCEL, KEYS)
    assert dict(wechat.params) == {"access_token": "tok-1"}
    assert json.loads(wechat.body)["delivery_list"] == [
        {"delivery_id": "SF", "waybill_id": "SF1402938475612", "deliver_type": 1}
    ]
    amazon = amazon_api.confirm_shipment(PARCEL, KEYS, NOW)
    assert amazon.path == "/orders/v0/orders/4102938475610293847/shipmentConfirmation"
    assert amazon.headers["x-amz-access-token"] == "tok-1"
    package = json.loads(amazon.body)
    assert package["marketplaceId"] == "A1VC38T7YXB528"
    assert package["packageDetail"]["orderItems"] == [{"orderItemId": "SKU-TEA-001", "quantity": 1}]
    assert package["packageDetail"]["shipDate"] == "2026-12-07T06:30:05Z"


def _top_error(code: int, sub_code: str, sub_msg: str = "m") -> dict[str, object]:
    return {"error_response": {"code": code, "msg": "x", "sub_code": sub_code, "sub_msg": sub_msg}}


@pytest.mark.parametrize(
    ("answer", "verdict", "code"),
    [
        (reply(200, {"logistics_offline_send_response": {"shipping": {"is_success": True}}}), Verdict.CONFIRMED, "OK"),
        (reply(200, _top_error(15, "isv.logistics-offline-service-error:B04")), Verdict.ALREADY_CONFIRMED, None),
        (reply(200, _top_error(7, "accesscontrol.limited-by-app-access-count")), Verdict.RATE_LIMITED, None),
        (reply(200, _top_error(27, "invalid-sessionkey")), Verdict.CREDENTIALS_REFUSED, "invalid-sessionkey"),
        (reply(200, _top_error(15, "isp.top-remote-connection-timeout")), Verdict.TRANSIENT, None),
        (reply(200, _top_error(15, "isv.logistics-offline-service-error:B60", "运单号不符合规则")), Verdict.REFUSED,
         "isv.logistics-offline-service-error:B60"),
        (reply(200, _top_error(15, "isv.never-seen-before:Q1")), Verdict.REFUSED, "isv.never-seen-before:Q1"),
        (reply(502, b"<html><body>Bad Gateway</body></html>", content_type="text/html"), Verdict.TRANSIENT,
         "HTML_ERROR_PAGE_502"),
        (reply(200, b'{"logistics_offline_send_response":{"ship'), Verdict.TRANSIENT, "MALFORMED_ANSWER_200"),
        (reply(200, [1, 2]), Verdict.TRANSIENT, "MALFORMED_ANSWER_200"),
        (reply(429, b"", retry_after="7"), Verdict.RATE_LIMITED, "HTTP_429"),
    ],
)  # fmt: skip
def test_top_answers(answer: Reply, verdict: Verdict, code: str | None) -> None:
    read = taobao_api.read_confirmation(answer)
    assert read.verdict is verdict
    if code is not None:
        assert read.code == code


def _douyin(code: int, sub_code: str = "", sub_msg: str = "") -> Reply:
    return reply(200, {"code": code, "msg": "m", "sub_code": sub_code, "sub_msg": sub_msg, "data": {}})


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (_douyin(10000), Verdict.CONFIRMED),
        (_douyin(50002, "isv.business-failed:10009", "订单已发货，请勿重复发货"), Verdict.ALREADY_CONFIRMED),
        (_douyin(20000), Verdict.TRANSIENT),
        (_douyin(90000), Verdict.RATE_LIMITED),
        (_douyin(30002), Verdict.CREDENTIALS_REFUSED),
        (_douyin(50002, "isv.business-failed:10026", "物流公司编码错误"), Verdict.REFUSED),
        (reply(200, {"code": "weird"}), Verdict.TRANSIENT),
    ],
)
def test_douyin_answers(answer: Reply, verdict: Verdict) -> None:
    assert douyin_api.read_confirmation(answer).verdict is verdict


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (reply(200, {"errcode": 0, "errmsg": "ok"}), Verdict.CONFIRMED),
        (reply(200, {"errcode": -1, "errmsg": "system error"}), Verdict.TRANSIENT),
        (reply(200, {"errcode": 45009, "errmsg": "quota"}), Verdict.RATE_LIMITED),
        (reply(200, {"errcode": 42001, "errmsg": "expired"}), Verdict.CREDENTIALS_REFUSED),
        (reply(200, {"errcode": 10020054, "errmsg": "delivery_id is invalid"}), Verdict.REFUSED),
    ],
)
def test_wechat_answers(answer: Reply, verdict: Verdict) -> None:
    assert wechat_channels_api.read_confirmation(answer).verdict is verdict


@pytest.mark.parametrize(
    ("answer", "verdict", "code"),
    [
        (reply(204, b""), Verdict.CONFIRMED, "204"),
        (reply(429, {"errors": [{"code": "QuotaExceeded", "message": "q"}]}), Verdict.RATE_LIMITED, "HTTP_429"),
        (reply(503, {"errors": [{"code": "ServiceUnavailable", "message": "s"}]}), Verdict.TRANSIENT, "HTTP_503"),
        (reply(403, {"errors": [{"code": "Unauthorized", "message": "denied"}]}), Verdict.CREDENTIALS_REFUSED,
         "Unauthorized"),
        (reply(400, {"errors": [{"code": "InvalidInput", "message": "Invalid carrierCode."}]}), Verdict.REFUSED,
         "InvalidInput"),
        (reply(400, {"unexpected": True}), Verdict.TRANSIENT, "MALFORMED_ANSWER_400"),
    ],
)  # fmt: skip
def test_amazon_answers(answer: Reply, verdict: Verdict, code: str) -> None:
    read = amazon_api.read_confirmation(answer)
    assert (read.verdict, read.code) == (verdict, code)


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after(reply(429, b"", retry_after="12")) == 12
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert retry_after(reply(429, b"", retry_after=later), NOW) == 30
    assert retry_after(reply(429, b"", retry_after="soon")) is None
    assert retry_after(reply(429, b"")) is None


def test_back_off_doubles_to_the_cap_and_yields_to_a_longer_retry_after() -> None:
    transient = Answer(Verdict.TRANSIENT, "BUSY", "")
    assert [delay_seconds(transient, n, 5, 60) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert delay_seconds(Answer(Verdict.RATE_LIMITED, "429", "", 45), 1, 5, 60) == 45
    assert delay_seconds(Answer(Verdict.RATE_LIMITED, "429", "", 1), 3, 5, 60) == 20


def test_credentials_are_sealed_and_only_a_fingerprint_shows() -> None:
    vault = Vault("k")
    sealed = seal(vault, KEYS)
    assert b"helloworld" not in sealed and b"tok-1" not in sealed
    assert open_sealed(vault, sealed) == KEYS
    assert "helloworld" not in repr(KEYS) and fingerprint(KEYS) in repr(KEYS)
    assert fingerprint(KEYS) != fingerprint(Credentials(app_key="12345678", app_secret="other"))


def test_an_order_belongs_to_the_shop_it_names_or_to_its_channels_only_shop() -> None:
    now = NOW
    one, two = (Shop(id=n, channel="TAOBAO", code=c, name=c, created_at=now) for n, c in ((1, "a"), (2, "b")))
    assert pick_shop([one, two], "b") is two
    assert pick_shop([one, two], None) is None
    assert pick_shop([one], None) is one
    assert pick_shop([one], "zzz") is None
