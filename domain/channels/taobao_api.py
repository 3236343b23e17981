"""Taobao / Tmall open platform (TOP) calls: signed parameters, and what TOP's answers mean.

Signing (TOP's published rule): sort every parameter but `sign` by name, concatenate name and value, and take
md5(secret + that + secret), or HMAC-MD5 / HMAC-SHA256 keyed by the secret over it, as upper-case hex. Times are
Beijing time text. Errors come as `error_response` with a numeric `code` and a `sub_code` (isv.* for the
caller's mistakes, isp.* for the platform's own)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode
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

PATH = "/router/rest"
OFFLINE_SEND = "taobao.logistics.offline.send"
SOLD_INCREMENT = "taobao.trades.sold.increment.get"
TRADE_FIELDS = (
    "tid,tid_str,type,status,created,pay_time,modified,end_time,payment,total_fee,post_fee,discount_fee,buyer_nick,"
    "buyer_open_uid,receiver_name,receiver_state,receiver_city,receiver_district,receiver_address,receiver_mobile,"
    "orders.oid,orders.outer_sku_id,orders.sku_id,orders.title,orders.num,orders.price,orders.status"
)
BEIJING = ZoneInfo("Asia/Shanghai")
COMPANY_CODES = {"SF": "SF", "YTO": "YTO", "ZTO": "ZTO", "STO": "STO", "YUNDA": "YUNDA", "EMS": "EMS", "JD": "JD"}

RATE_LIMITED_CODES = frozenset({"7"})  # App Call Limited
CREDENTIAL_CODES = frozenset({"11", "25", "26", "27", "29"})  # permissions, signature, session missing/invalid, app key
CREDENTIAL_SUB_CODES = frozenset({"session-expired", "invalid-sessionkey", "session-not-exist"})
ALREADY_SHIPPED = ":B04"
"""`isv.logistics-offline-service-error:B04`: the trade was already shipped (or closed): a repeat of ours, or the
merchant shipped it by hand; either way there is nothing left to confirm."""
RETRY_SUB_CODES = (":B150",)  # "shipping failed, try again shortly"


def sign(params: Mapping[str, str], secret: str, sign_method: str = "md5") -> str:
    joined = "".join(f"{name}{value}" for name, value in sorted(params.items()) if name != "sign")
    if sign_method == "md5":
        return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()
    digest = hashlib.sha256 if sign_method == "hmac-sha256" else hashlib.md5
    return hmac.new(secret.encode(), joined.encode(), digest).hexdigest().upper()


def call(
    method: str, business: Mapping[str, str], credentials: Credentials, now: datetime, sign_method: str = "md5"
) -> SignedRequest:
    """Any TOP method, POSTed as a form: the channel pull builds its calls with this too."""
    params = {
        "method": method,
        "app_key": credentials.app_key,
        "session": credentials.access_token,
        "timestamp": now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "format": "json",
        "v": "2.0",
        "sign_method": sign_method,
        **business,
    }
    params["sign"] = sign(params, credentials.app_secret, sign_method)
    headers = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}
    return SignedRequest("POST", PATH, headers=headers, body=urlencode(params).encode())


def confirm_shipment(parcel: Parcel, credentials: Credentials, now: datetime) -> SignedRequest:
    business = {
        "tid": parcel.channel_order_id,
        "out_sid": parcel.tracking_number,
        "company_code": company_code(COMPANY_CODES, parcel.carrier_code),
    }
    if parcel.split:  # one of several parcels: its sub-orders (the lines' item ids) are the ones it carries
        business["is_split"] = "1"
        business["sub_tid"] = ",".join(line.item_id for line in parcel.lines)
    return call(OFFLINE_SEND, business, credentials, now)


def read_confirmation(reply: Reply) -> Answer:
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    sent = body.get("logistics_offline_send_response")
    if isinstance(sent, dict):
        shipping = sent.get("shipping")
        if isinstance(shipping, dict) and shipping.get("is_success") in (True, "true"):
            return Answer(Verdict.CONFIRMED, "OK", "shipping.is_success")
        return Answer(Verdict.REFUSED, "NOT_SUCCESS", clip(sent))
    error = body.get("error_response")
    if not isinstance(error, dict):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    return _error(error)


def _error(error: Mapping[str, object]) -> Answer:
    code, sub_code = str(error.get("code", "")), str(error.get("sub_code") or "")
    message = clip(error.get("sub_msg") or error.get("msg") or "")
    named = sub_code or code
    if code in RATE_LIMITED_CODES:
        return Answer(Verdict.RATE_LIMITED, named, message)
    if code in CREDENTIAL_CODES or sub_code in CREDENTIAL_SUB_CODES:
        return Answer(Verdict.CREDENTIALS_REFUSED, named, message)
    if sub_code.endswith(ALREADY_SHIPPED):
        return Answer(Verdict.ALREADY_CONFIRMED, named, message)
    if sub_code.startswith("isp.") or sub_code.endswith(RETRY_SUB_CODES) or code == "10":
        return Answer(Verdict.TRANSIENT, named, message)
    return Answer(Verdict.REFUSED, named, message)


def sold_increment(
    window: Window, cursor: str, credentials: Credentials, page_size: int, now: datetime
) -> SignedRequest:
    """One page of the trades modified in the window (TOP allows a window of one day at most)."""
    text = "%Y-%m-%d %H:%M:%S"
    business = {
        "fields": TRADE_FIELDS,
        "start_modified": window.start.astimezone(BEIJING).strftime(text),
        "end_modified": window.end.astimezone(BEIJING).strftime(text),
        "page_no": cursor,
        "page_size": str(page_size),
        "use_has_next": "true",
    }
    return call(SOLD_INCREMENT, business, credentials, now)


def read_sold_increment(reply: Reply, cursor: str) -> Page | Answer:
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    found = body.get("trades_sold_increment_get_response")
    if not isinstance(found, dict):
        error = body.get("error_response")
        if not isinstance(error, dict):
            return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
        return _error(error)
    container = found.get("trades") or {"trade": []}
    trades = objects(container.get("trade") if isinstance(container, dict) else None)
    if trades is None:
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(found))
    more = found.get("has_next") in (True, "true")
    return Page(list(trades), str(int(cursor) + 1) if more else None)


def trade_payload(trade: Mapping[str, object], _items: object = None) -> bytes:
    """A pulled trade in the envelope `taobao.trade.fullinfo.get` answers with, as a bridge would push it."""
    return compact({"trade_fullinfo_get_response": {"trade": trade}})
