"""WeChat Channels shop (视频号小店) calls: the access token in the query, JSON bodies, `errcode`/`errmsg` answers."""

from __future__ import annotations

import json
from collections.abc import Mapping

from domain.confirmations.answer import (
    Answer,
    Reply,
    SignedRequest,
    Verdict,
    answered_object,
    clip,
)
from domain.confirmations.parcel import Parcel, company_code
from domain.shops.credentials import Credentials

DELIVERY_SEND = "/channels/ec/order/delivery/send"
COMPANY_CODES = {"SF": "SF", "YTO": "YTO", "ZTO": "ZTO", "STO": "STO", "YUNDA": "YD", "EMS": "EMS", "JD": "JD"}
PHYSICAL_DELIVERY = 1  # deliver_type: shipped by a courier

BUSY = -1  # system busy
CREDENTIAL_CODES = frozenset({40001, 40014, 41001, 42001})  # invalid, malformed, missing, expired access_token
RATE_LIMITED_CODES = frozenset({45009, 45011})  # daily quota, frequency limit


def call(path: str, body: Mapping[str, object], credentials: Credentials) -> SignedRequest:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    query = (("access_token", credentials.access_token),)
    return SignedRequest("POST", path, query, {"content-type": "application/json"}, data)


def confirm_shipment(parcel: Parcel, credentials: Credentials) -> SignedRequest:
    """Sent once per order: its delivery_list names every parcel the order left in."""
    deliveries = [
        {"delivery_id": company_code(COMPANY_CODES, carrier), "waybill_id": tracking, "deliver_type": PHYSICAL_DELIVERY}
        for tracking, carrier in ((parcel.tracking_number, parcel.carrier_code), *parcel.others)
    ]
    return call(DELIVERY_SEND, {"order_id": parcel.channel_order_id, "delivery_list": deliveries}, credentials)


def read_confirmation(reply: Reply) -> Answer:
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    code = body.get("errcode")
    if not isinstance(code, int):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    message = clip(body.get("errmsg") or "")
    if code == 0:
        return Answer(Verdict.CONFIRMED, "0", message)
    if code == BUSY:
        return Answer(Verdict.TRANSIENT, str(code), message)
    if code in RATE_LIMITED_CODES:
        return Answer(Verdict.RATE_LIMITED, str(code), message)
    if code in CREDENTIAL_CODES:
        return Answer(Verdict.CREDENTIALS_REFUSED, str(code), message)
    return Answer(Verdict.REFUSED, str(code), message)
