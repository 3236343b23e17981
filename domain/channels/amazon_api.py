"""Amazon Selling Partner API calls: an LWA access token in `x-amz-access-token`, JSON bodies, and answers that
are 204 on success or `{"errors": [{"code", "message", "details"}]}`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from domain.confirmations.answer import (
    Answer,
    Reply,
    SignedRequest,
    Verdict,
    answered_object,
    clip,
    http_failure,
    json_object,
    our_answer,
)
from domain.confirmations.parcel import Parcel, company_code
from domain.i18n import msg
from domain.pull.page import Page, Window, compact, objects
from domain.shops.credentials import Credentials

COMPANY_CODES = {"SF": "SF Express", "YTO": "YTO Express", "ZTO": "ZTO Express", "STO": "STO Express",
                 "YUNDA": "Yunda", "EMS": "China Post", "JD": "JD Logistics"}  # fmt: skip
CREDENTIAL_CODES = frozenset({"Unauthorized", "InvalidAccessToken", "AccessDenied", "Forbidden"})
ORDERS = "/orders/v0/orders"
FIRST = "-"
"""The cursor of a window's first page: later pages are asked for by the NextToken alone."""


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
        return our_answer(Verdict.CONFIRMED, str(reply.status), msg("shipment confirmed"))
    body = json_object(reply)
    if isinstance(body, Answer):
        return body
    return _error(reply, body)


def _error(reply: Reply, body: dict[str, Any]) -> Answer:
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if first is None:
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    code, message = str(first.get("code") or f"HTTP_{reply.status}"), clip(first.get("message") or "")
    if reply.status in (401, 403) or code in CREDENTIAL_CODES:
        return Answer(Verdict.CREDENTIALS_REFUSED, code, message)
    return Answer(Verdict.REFUSED, code, message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_orders(window: Window, cursor: str, credentials: Credentials, page_size: int, now: datetime) -> SignedRequest:
    """getOrders: the first page by LastUpdatedAfter/Before, the next ones by the NextToken the last page gave."""
    params: list[tuple[str, str]] = [("MarketplaceIds", credentials.marketplace_id)]
    if cursor == FIRST:
        params += [("LastUpdatedAfter", _iso(window.start)), ("LastUpdatedBefore", _iso(window.end)),
                   ("MaxResultsPerPage", str(min(page_size, 100)))]  # fmt: skip
    else:
        params.append(("NextToken", cursor))
    return replace(call("GET", ORDERS, None, credentials, now), params=tuple(params))


def read_orders(reply: Reply, _cursor: str) -> Page | Answer:
    body = _success(reply)
    if isinstance(body, Answer):
        return body
    orders = objects(body.get("Orders"))
    if orders is None:
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    token = body.get("NextToken")
    return Page(list(orders), str(token) if token else None)


def get_order_items(order_id: str, credentials: Credentials, now: datetime) -> SignedRequest:
    return call("GET", f"{ORDERS}/{quote(order_id, safe='')}/orderItems", None, credentials, now)


def read_order_items(reply: Reply) -> dict[str, Any] | Answer:
    body = _success(reply)
    if isinstance(body, Answer):
        return body
    if objects(body.get("OrderItems")) is None:
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    return body


def _success(reply: Reply) -> dict[str, Any] | Answer:
    """The `payload` of a 200, or the verdict on anything else (SP-API's 429 is `QuotaExceeded`)."""
    body = answered_object(reply)
    if isinstance(body, Answer):
        return body
    if reply.status != 200:
        return _error(reply, body)
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return Answer(Verdict.TRANSIENT, f"MALFORMED_ANSWER_{reply.status}", clip(body))
    return payload


def order_payload(order: dict[str, Any], items: dict[str, Any] | None) -> bytes:
    """getOrders' Order with its getOrderItems answer, in the two operations' envelopes the adapter reads."""
    return compact({"payload": order, "items": {"payload": items or {"OrderItems": []}}})


def order_id(order: dict[str, Any]) -> str:
    return str(order.get("AmazonOrderId", ""))
