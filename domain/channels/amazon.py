"""Amazon SP-API orders: the Orders v0 `Order` object with its `getOrderItems` items alongside.

Submitted as `{"order": <Order>, "orderItems": [<OrderItem>...]}`, or the two operations' response
envelopes (`{"payload": <Order>}` with `{"payload": {"OrderItems": [...]}}` under `items`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.channels import fields as f
from domain.channels.adapter import Adapter, map_status
from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems
from domain.i18n import msg
from domain.invoices.request import InvoiceRequest
from domain.money import MoneyError, format_minor, parse_minor
from domain.orders.channels import Channel
from domain.orders.commands import LineSubmission, OrderSubmission
from domain.orders.status import OrderStatus

S = OrderStatus
STATUSES = {
    "PendingAvailability": S.PENDING_PAYMENT,
    "Pending": S.PENDING_PAYMENT,
    "Unshipped": S.PAID,
    "PartiallyShipped": S.PAID,
    "Shipped": S.PAID,
    "InvoiceUnconfirmed": S.PAID,
    "Unfulfillable": S.PAID,
    "Canceled": S.CANCELLED,
}


def _money(source: Mapping[str, Any], key: str, at: f.Path, problems: Problems, currency: str) -> int:
    value = source.get(key)
    if value is None:
        return 0
    if not isinstance(value, Mapping):
        problems.add((*at, key), msg("expected a Money object {{CurrencyCode, Amount}}"), IntakeErrorCode.WRONG_SHAPE)
        return 0
    code = f.text(value, "CurrencyCode", (*at, key), problems)
    amount = f.text(value, "Amount", (*at, key), problems)
    if code and currency and code != currency:
        problems.add(
            (*at, key, "CurrencyCode"),
            msg("{code} differs from the order's {currency}", code=code, currency=currency),
            IntakeErrorCode.WRONG_SHAPE,
        )
        return 0
    try:
        return parse_minor(amount, currency) if amount and currency else 0
    except MoneyError as exc:
        problems.add((*at, key, "Amount"), exc.message, IntakeErrorCode.WRONG_SHAPE)
        return 0


def parse(payload: Mapping[str, Any], problems: Problems) -> OrderSubmission | None:
    at: f.Path = ("payload",)
    if "payload" in payload:
        order = f.obj(payload, "payload", at, problems)
        oat: f.Path = (*at, "payload")
        items_envelope = f.obj(payload, "items", at, problems)
        items_payload = f.obj(items_envelope, "payload", (*at, "items"), problems)
        items = f.array(items_payload, "OrderItems", (*at, "items", "payload"), problems)
        iat: f.Path = (*at, "items", "payload", "OrderItems")
    else:
        order = f.obj(payload, "order", at, problems)
        oat = (*at, "order")
        items = f.array(payload, "orderItems", at, problems)
        iat = (*at, "orderItems")
    order_id = f.text(order, "AmazonOrderId", oat, problems)
    raw = f.text(order, "OrderStatus", oat, problems)
    status = map_status(ADAPTER, raw, (*oat, "OrderStatus"), problems)
    placed = f.iso_time(order, "PurchaseDate", oat, problems)
    if placed is None and "PurchaseDate" not in order:
        problems.add((*oat, "PurchaseDate"), msg("expected the purchase time"), IntakeErrorCode.WRONG_SHAPE)
    updated = f.iso_time(order, "LastUpdateDate", oat, problems)
    total = f.obj(order, "OrderTotal", oat, problems) if status is not S.PENDING_PAYMENT else order.get("OrderTotal")
    currency = ""
    if isinstance(total, Mapping):
        currency = f.text(total, "CurrencyCode", (*oat, "OrderTotal"), problems)
    elif items and isinstance(items[0], Mapping) and isinstance(items[0].get("ItemPrice"), Mapping):
        currency = str(items[0]["ItemPrice"].get("CurrencyCode", ""))  # Pending orders carry no total yet
    lines = []
    shipping = discount = 0
    for index, item in enumerate(items):
        here = (*iat, index)
        if not isinstance(item, Mapping):
            problems.add(here, msg("expected an object"), IntakeErrorCode.WRONG_SHAPE)
            continue
        quantity = f.integer(item, "QuantityOrdered", here, problems)
        price = _money(item, "ItemPrice", here, problems, currency)  # the price of all units, not of one
        shipping += _money(item, "ShippingPrice", here, problems, currency)
        discount += _money(item, "PromotionDiscount", here, problems, currency)
        discount += _money(item, "ShippingDiscount", here, problems, currency)
        if quantity > 0 and price % quantity:
            problems.add(
                (*here, "ItemPrice"),
                msg("{price} does not split evenly over {quantity} units", price=price, quantity=quantity),
                IntakeErrorCode.WRONG_SHAPE,
            )
        lines.append(
            LineSubmission(
                sku=f.text(item, "SellerSKU", here, problems, required=False) or f.text(item, "ASIN", here, problems),
                title=f.text(item, "Title", here, problems, required=False),
                quantity=quantity,
                unit_price=format_minor(price // quantity if quantity > 0 else 0, currency) if currency else "0",
            )
        )
    if placed is None or status is None or not currency or problems.items:
        return None
    return OrderSubmission(
        channel=Channel.AMAZON.value,
        channel_order_id=f.with_suffix(order_id, order),
        status=status.value,
        currency=currency,
        placed_at=placed,
        lines=lines,
        paid_at=placed if status is not S.PENDING_PAYMENT else None,
        cancelled_at=(updated or placed) if status is S.CANCELLED else None,
        shipping_amount=format_minor(shipping, currency),
        discount_amount=format_minor(discount, currency),
        platform_buyer_id=_buyer(order),
        warehouse_code=f"AMAZON-{order.get('FulfillmentChannel')}" if order.get("FulfillmentChannel") else None,
        raw_status=raw,
        attribution=f.attribution(payload),
        invoice=_invoice(order),
    )


def _invoice(order: Mapping[str, Any]) -> InvoiceRequest | None:
    """`BuyerInfo.BuyerTaxInfo` of the Orders v0 model: the business buyer's legal name and, when Amazon has
    them, its tax classifications (name + value pairs; the first value is kept as the tax id). Orders without
    it (every consumer order, and China, where Amazon sends none) carry no invoice request."""
    info = order.get("BuyerInfo")
    tax = info.get("BuyerTaxInfo") if isinstance(info, Mapping) else None
    if not isinstance(tax, Mapping) or not str(tax.get("CompanyLegalName") or "").strip():
        return None
    classes = tax.get("TaxClassifications")
    values = [c.get("Value") for c in classes if isinstance(c, Mapping)] if isinstance(classes, list) else []
    tax_id = next((str(v).strip() for v in values if str(v or "").strip()), None)
    email = str(info.get("BuyerEmail") or "").strip() or None if isinstance(info, Mapping) else None
    return InvoiceRequest(title=str(tax["CompanyLegalName"]).strip(), tax_id=tax_id, email=email)


def _buyer(order: Mapping[str, Any]) -> str | None:
    info = order.get("BuyerInfo")
    email = info.get("BuyerEmail") if isinstance(info, Mapping) else None
    return str(email) if email else None


ADAPTER = Adapter(
    Channel.AMAZON,
    "amazon.order",
    parse,
    frozenset({"order.OrderStatus", "order.FulfillmentChannel", "order.OrderType", "payload.OrderStatus"}),
    STATUSES,
    "OrderStatus",
)
