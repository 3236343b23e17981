"""Taobao / Tmall trades as `taobao.trade.fullinfo.get` returns them: yuan strings, Beijing-time text, sub-orders."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.channels import fields as f
from domain.channels.adapter import Adapter, map_status
from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems
from domain.i18n import msg
from domain.invoices.request import InvoiceRequest
from domain.orders.channels import Channel
from domain.orders.commands import LineSubmission, OrderSubmission
from domain.orders.status import OrderStatus

S = OrderStatus
STATUSES = {
    "TRADE_NO_CREATE_PAY": S.PENDING_PAYMENT,
    "WAIT_BUYER_PAY": S.PENDING_PAYMENT,
    "PAY_PENDING": S.PENDING_PAYMENT,
    "WAIT_PRE_AUTH_CONFIRM": S.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": S.PAID,
    "SELLER_CONSIGNED_PART": S.PAID,
    "WAIT_BUYER_CONFIRM_GOODS": S.PAID,
    "TRADE_BUYER_SIGNED": S.PAID,
    "TRADE_FINISHED": S.PAID,
    "PAID_FORBID_CONSIGN": S.PAID,
    "TRADE_CLOSED": S.CANCELLED,
    "TRADE_CLOSED_BY_TAOBAO": S.CANCELLED,
}


def parse(payload: Mapping[str, Any], problems: Problems) -> OrderSubmission | None:
    at: f.Path = ("payload",)
    if "trade_fullinfo_get_response" in payload:
        envelope = f.obj(payload, "trade_fullinfo_get_response", at, problems)
        at = (*at, "trade_fullinfo_get_response")
        trade = f.obj(envelope, "trade", at, problems)
        at = (*at, "trade")
    else:
        trade = payload
    tid = f.text(trade, "tid_str", at, problems) if "tid_str" in trade else f.text(trade, "tid", at, problems)
    raw = f.text(trade, "status", at, problems)
    status = map_status(ADAPTER, raw, (*at, "status"), problems)
    created = f.shanghai_time(trade, "created", at, problems)
    if created is None and "created" not in trade:
        problems.add((*at, "created"), msg("expected the trade's creation time"), IntakeErrorCode.WRONG_SHAPE)
    pay_time = f.shanghai_time(trade, "pay_time", at, problems)
    closed = f.shanghai_time(trade, "end_time", at, problems) or f.shanghai_time(trade, "modified", at, problems)
    container = f.obj(trade, "orders", at, problems)
    lines = []
    for index, sub in enumerate(f.array(container, "order", (*at, "orders"), problems)):
        here = (*at, "orders", "order", index)
        if not isinstance(sub, Mapping):
            problems.add(here, msg("expected an object"), IntakeErrorCode.WRONG_SHAPE)
            continue
        sku = f.text(sub, "outer_sku_id", here, problems, required=False) or f.text(sub, "sku_id", here, problems)
        lines.append(
            LineSubmission(
                sku=sku,
                title=f.text(sub, "title", here, problems, required=False),
                quantity=f.integer(sub, "num", here, problems),
                unit_price=f.text(sub, "price", here, problems),
            )
        )
    post_fee = f.text(trade, "post_fee", at, problems, required=False) or "0"
    payment = f.text(trade, "payment", at, problems)
    if created is None or status is None or problems.items:
        return None
    return OrderSubmission(
        channel=Channel.TAOBAO.value,
        channel_order_id=f.with_suffix(tid, trade),
        status=status.value,
        currency="CNY",
        placed_at=created,
        lines=lines,
        paid_at=pay_time if status is not S.PENDING_PAYMENT else None,
        cancelled_at=closed if status is S.CANCELLED else None,
        shipping_amount=post_fee,
        discount_amount=_discount(lines, post_fee, payment),
        total_amount=payment,
        buyer_phone=f.text(trade, "receiver_mobile", at, problems, required=False) or None,
        platform_buyer_id=f.text(trade, "buyer_open_uid", at, problems, required=False) or None,
        shop_code=f.text(trade, "seller_nick", at, problems, required=False) or None,
        raw_status=raw,
        attribution=f.attribution(trade, payload),
        invoice=_invoice(trade),
    )


def _invoice(trade: Mapping[str, Any]) -> InvoiceRequest | None:
    """The Trade structure's `invoice_name` (the invoice title the buyer entered); `buyer_email`, when sent, is
    where an electronic invoice can go. Nothing else about the invoice is read: see README "Invoices"."""
    title = str(trade.get("invoice_name") or "").strip()
    if not title:
        return None
    return InvoiceRequest(title=title, email=str(trade.get("buyer_email") or "").strip() or None)


def _discount(lines: list[LineSubmission], post_fee: str, payment: str) -> str:
    """Taobao's discount_fee mixes shop and platform coupons; what the buyer paid is the truth."""
    try:
        items = sum((Decimal(x.unit_price) * x.quantity for x in lines), Decimal(0))
        discount = items + Decimal(post_fee) - Decimal(payment)
    except InvalidOperation:
        return "0"
    return str(max(discount, Decimal(0)))


ENUMS = frozenset({"status", "orders.order[].status", "type"})
ADAPTER = Adapter(Channel.TAOBAO, "taobao.trade", parse, ENUMS, STATUSES)
