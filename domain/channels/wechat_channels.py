"""WeChat Channels shop orders (`/channels/ec/order/get`): numeric status codes, fen, openid and unionid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.channels import fields as f
from domain.channels.adapter import Adapter, map_status
from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems
from domain.i18n import msg
from domain.orders.channels import Channel
from domain.orders.commands import LineSubmission, OrderSubmission
from domain.orders.status import OrderStatus

S = OrderStatus
STATUSES = {
    "10": S.PENDING_PAYMENT,  # 待付款
    "12": S.PENDING_PAYMENT,  # 礼物待收下
    "20": S.PAID,  # 待发货
    "21": S.PAID,  # 部分发货
    "30": S.PAID,  # 待收货
    "100": S.PAID,  # 完成
    "200": S.CANCELLED,  # 全部商品售后之后, 订单取消
    "250": S.CANCELLED,  # 未付款用户主动取消或超时未付款订单自动取消
}


def parse(payload: Mapping[str, Any], problems: Problems) -> OrderSubmission | None:
    at: f.Path = ("payload",)
    if "order" in payload and isinstance(payload.get("order"), Mapping):
        order = f.obj(payload, "order", at, problems)
        at = (*at, "order")
    else:
        order = payload
    order_id = f.text(order, "order_id", at, problems)
    raw = str(f.integer(order, "status", at, problems))
    status = map_status(ADAPTER, raw, (*at, "status"), problems)
    created = f.unix_time(order, "create_time", at, problems)
    if created is None:
        problems.add((*at, "create_time"), msg("expected the order's creation time"), IntakeErrorCode.WRONG_SHAPE)
    updated = f.unix_time(order, "update_time", at, problems)
    detail = f.obj(order, "order_detail", at, problems)
    dat = (*at, "order_detail")
    pay_info: Mapping[str, Any] = detail["pay_info"] if isinstance(detail.get("pay_info"), Mapping) else {}
    paid = f.unix_time(pay_info, "pay_time", (*dat, "pay_info"), problems)
    price = f.obj(detail, "price_info", dat, problems)
    lines = []
    for index, product in enumerate(f.array(detail, "product_infos", dat, problems)):
        here = (*dat, "product_infos", index)
        if not isinstance(product, Mapping):
            problems.add(here, msg("expected an object"), IntakeErrorCode.WRONG_SHAPE)
            continue
        code = f.text(product, "sku_code", here, problems, required=False) or f.text(product, "sku_id", here, problems)
        lines.append(
            LineSubmission(
                sku=code,
                title=f.text(product, "title", here, problems, required=False),
                quantity=f.integer(product, "sku_cnt", here, problems),
                unit_price=f.fen(product, "sale_price", here, problems),
            )
        )
    pat = (*dat, "price_info")
    address = detail.get("delivery_info", {}).get("address_info", {}) if isinstance(detail, Mapping) else {}
    phone = address.get("tel_number") if isinstance(address, Mapping) else None
    unionid = f.text(order, "unionid", at, problems, required=False)
    openid = f.text(order, "openid", at, problems, required=False)
    if created is None or status is None or problems.items:
        return None
    return OrderSubmission(
        channel=Channel.WECHAT_CHANNELS.value,
        channel_order_id=f.with_suffix(order_id, order),
        status=status.value,
        currency="CNY",
        placed_at=created,
        lines=lines,
        paid_at=(paid or updated) if status is not S.PENDING_PAYMENT else None,
        cancelled_at=updated if status is S.CANCELLED else None,
        shipping_amount=f.fen(price, "freight", pat, problems, required=False),
        discount_amount=f.fen(price, "discounted_price", pat, problems, required=False),
        total_amount=f.fen(price, "order_price", pat, problems),
        buyer_phone=phone if isinstance(phone, str) and "*" not in phone else None,
        platform_buyer_id=unionid or openid or None,
        # Both ids by their kind: a buyer who signed in to the mini-program with them sees this order.
        buyer_aliases=[(k, v) for k, v in (("WECHAT_UNIONID", unionid), ("WECHAT_OPENID", openid)) if v],
        raw_status=raw,
        attribution=f.attribution(payload),
    )


ADAPTER = Adapter(Channel.WECHAT_CHANNELS, "wechat_channels.order", parse, frozenset({"status"}), STATUSES)
