"""Douyin shop open platform calls: signed query parameters, a JSON `param_json` body, and what answers mean.

Signing (the platform's published rule): `param_json` is the business parameters as JSON with keys sorted and no
spaces; the string signed is secret + "app_key" + app_key + "method" + method + "param_json" + param_json +
"timestamp" + timestamp + "v" + v + secret, as HMAC-SHA256 keyed by the secret (or md5 of it), lower-case hex.
Every answer is `{code, msg, sub_code, sub_msg, data, log_id}`, code 10000 meaning success."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.confirmations.answer import (
    Answer,
    Reply,
    SignedRequest,
    Verdict,
    answered_object,
    clip,
)
from domain.confirmations.parcel import Parcel, company_code
from domain.pull.page import Page, Window, compact, objects
from domain.shops.credentials import Credentials

LOGISTICS_ADD = "order.logisticsAdd"
SEARCH_LIST = "order.searchList"
VERSION = "2"
BEIJING = ZoneInfo("Asia/Shanghai")
COMPANY_CODES = {"SF": "shunfeng", "YTO": "yuantong", "ZTO": "zhongtong", "STO": "shentong", "YUNDA": "yunda",
                 "EMS": "ems", "JD": "jd"}  # fmt: skip

SUCCESS = 10000
UNAVAILABLE = 20000  # 服务不可用
CREDENTIAL_CODES = range(30000, 30100)  # 授权: access_token missing, invalid or expired; app not authorised
RATE_LIMITED = 90000  # 流量限制
ALREADY_SHIPPED_TEXT = "已发货"


def param_json(params: Mapping[str, object]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(app_key: str, secret: str, method: str, param: str, timestamp: str, sign_method: str = "hmac-sha256") -> str:
    text = f"{secret}app_key{app_key}method{method}param_json{param}timestamp{timestamp}v{VERSION}{secret}"
    if sign_method == "md5":
        return hashlib.md5(text.encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def call(method: str, params: Mapping[str, object], credentials: Credentials, now: datetime) -> SignedRequest:
    """Any open platform method: the path is the method with dots as slashes (`order.logisticsAdd`)."""
    body = param_json(params)
    timestamp = now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    query = (
        ("app_key", credentials.app_key),
        ("method", method),
        ("v", VERSION),
        ("timestamp", timestamp),
        ("access_token", credentials.access_token),
        ("sign_method", "hmac-sha256"),
        ("sign", sign(credentials.app_key, credentials.app_secret, method, body, timestamp)),
    )
    path = "/" + method.replace(".", "/")
    return SignedRequest("POST", path, query, {"content-type": "application/json;charset=utf-8"}, body.encode())


def confirm_shipment(parcel: Parcel, credentials: Credentials, now: datetime) -> SignedRequest:
    params = {
        "order_id": parcel.channel_order_id,
        "company_code": company_code(COMPANY_CODES, parcel.carrier_code),
        "logistics_code": parcel.tracking_number,
    }
    return call(LOGISTICS_ADD, params, credentials, now)


def read_confirmation(reply: Reply) -> Answer:
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    code = body.get("code")
    if not isinstance(code, int):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    if code == SUCCESS:
        return Answer(Verdict.CONFIRMED, "10000", clip(body.get("sub_msg") or body.get("msg") or ""))
    return _error(body, code)


def _error(body: Mapping[str, object], code: int) -> Answer:
    sub_code = str(body.get("sub_code") or "")
    message = clip(body.get("sub_msg") or body.get("msg") or "")
    named = f"{code}:{sub_code}" if sub_code else str(code)
    if code == RATE_LIMITED:
        return Answer(Verdict.RATE_LIMITED, named, message)
    if code in CREDENTIAL_CODES:
        return Answer(Verdict.CREDENTIALS_REFUSED, named, message)
    if ALREADY_SHIPPED_TEXT in message:
        return Answer(Verdict.ALREADY_CONFIRMED, named, message)
    if code == UNAVAILABLE or sub_code.startswith("isp."):
        return Answer(Verdict.TRANSIENT, named, message)
    return Answer(Verdict.REFUSED, named, message)


def search_list(window: Window, cursor: str, credentials: Credentials, page_size: int, now: datetime) -> SignedRequest:
    """One page (from 0) of the shop's orders updated in the window, oldest change first."""
    params = {
        "update_time_start": int(window.start.timestamp()),
        "update_time_end": int(window.end.timestamp()),
        "page": int(cursor),
        "size": page_size,
        "order_by": "update_time",
        "order_asc": True,
    }
    return call(SEARCH_LIST, params, credentials, now)


def read_search_list(reply: Reply, cursor: str) -> Page | Answer:
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    code = body.get("code")
    if not isinstance(code, int):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    if code != SUCCESS:
        return _error(body, code)
    data = body.get("data")
    orders = objects(data.get("shop_order_list") or []) if isinstance(data, dict) else None
    total, size = (data.get("total"), data.get("size")) if isinstance(data, dict) else (None, None)
    if orders is None or not isinstance(total, int) or not isinstance(size, int):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    page = int(cursor)
    return Page(list(orders), str(page + 1) if (page + 1) * size < total else None)


def order_payload(order: Mapping[str, object], _items: object = None) -> bytes:
    """A pulled order in the envelope `order.orderDetail` answers with, as a bridge would push it."""
    return compact({"code": SUCCESS, "msg": "success", "data": {"shop_order_detail": order}})
