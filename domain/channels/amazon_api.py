"""Amazon Selling Partner API calls: an LWA access token in `x-amz-access-token`, JSON bodies, and answers that
are 204 on success or `{"errors": [{"code", "message", "details"}]}`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

from domain.confirmations.answer import Answer, Reply, SignedRequest, Verdict, clip, http_failure, json_object
from domain.confirmations.parcel import Parcel, company_code
from domain.shops.credentials import Credentials

COMPANY_CODES = {"SF": "SF Express", "YTO": "YTO Express", "ZTO": "ZTO Express", "STO": "STO Express",
                 "YUNDA": "Yunda", "EMS": "China Post", "JD": "JD Logistics"}  # fmt: skip
CREDENTIAL_CODES = frozenset({"Unauthorized", "InvalidAccessToken", "AccessDenied", "Forbidden"})


def call(method: str, path: str, body: object | None, credentials: Credentials, now: datetime) -> SignedRequest:
    headers = {
        "x-amz-access-token": credentials.access_token,
        "x-amz-date": now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "content-type": "application/json",
        "user-agent": "orderhub/0.1 (Language=Python)",
    }
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return SignedRequest(method, path, (), headers, data)


def confirm_shipment(parcel: Parcel, credentials: Credentials, now: datetime) -> SignedRequest:
    shipped = (parcel.shipped_at or now).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = {
        "packageReferenceId": str(parcel.number),
        "carrierCode": company_code(COMPANY_CODES, parcel.carrier_code),
        "trackingNumber": parcel.tracking_number,
        "shipDate": shipped,
        "orderItems": [{"orderItemId": line.item_id, "quantity": line.quantity} for line in parcel.lines],
    }
    path = f"/orders/v0/orders/{quote(parcel.channel_order_id, safe='')}/shipmentConfirmation"
    return call("POST", path, {"marketplaceId": credentials.marketplace_id, "packageDetail": package}, credentials, now)


def read_confirmation(reply: Reply) -> Answer:
    failed = http_failure(reply)
    if failed is not None:
        return failed
    if reply.status in (200, 204):
        return Answer(Verdict.CONFIRMED, str(reply.status), "shipment confirmed")
    body = json_object(reply)
    if isinstance(body, Answer):
        return body
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if first is None:
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    code, message = str(first.get("code") or f"HTTP_{reply.status}"), clip(first.get("message") or "")
    if reply.status in (401, 403) or code in CREDENTIAL_CODES:
        return Answer(Verdict.CREDENTIALS_REFUSED, code, message)
    return Answer(Verdict.REFUSED, code, message)
