"""Douyin shop orders (`order.orderDetail`): 19-digit ids, numeric status codes, fen, unix seconds and a
receiver that arrives encrypted and masked, never in the clear."""

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
    "1": S.PENDING_PAYMENT,  # 待确认/待支付
    "105": S.PAID,  # 已支付
    "2": S.PAID,  # 备货中
    "101": S.PAID,  # 部分发货
    "3": S.PAID,  # 已发货
    "5": S.PAID,  # 已完成
    "4": S.CANCELLED,  # 已取消
}


def parse(payload: Mapping[str, Any], problems: Problems) -> OrderSubmission | None:
    at: f.Path = ("payload",)
    if "data" in payload:
        data = f.obj(payload, "data", at, problems)
        order = f.obj(data, "shop_order_detail", (*at, "data"), problems)
        at = (*at, "data", "shop_order_detail")
    else:
        order = payload
    order_id = f.text(order, "order_id", at, problems)
    if order_id and not (order_id.isdigit() and len(order_id) == 19):
        problems.add(
            (*at, "order_id"),
            msg("expected a 19-digit order id, got {order_id}", order_id=repr(order_id)),
            IntakeErrorCode.WRONG_SHAPE,
        )
    raw = str(f.integer(order, "order_status", at, problems))
    status = map_status(ADAPTER, raw, (*at, "order_status"), problems)
    created = f.unix_time(order, "create_time", at, problems)
    if created is None:
        problems.add((*at, "create_time"), msg("expected the order's creation time"), IntakeErrorCode.WRONG_SHAPE)
    paid = f.unix_time(order, "pay_time", at, problems)
    updated = f.unix_time(order, "update_time", at, problems)
    lines = []
    for index, sku in enumerate(f.array(order, "sku_order_list", at, problems)):
        here = (*at, "sku_order_list", index)
        if not isinstance(sku, Mapping):
            problems.add(here, msg("expected an object"), IntakeErrorCode.WRONG_SHAPE)
            continue
        code = f.text(sku, "out_sku_id", here, problems, required=False) or f.text(sku, "sku_id", here, problems)
        lines.append(
            LineSubmission(
                sku=code,
                title=f.text(sku, "product_name", here, problems, required=False),
                quantity=f.integer(sku, "item_num", here, problems),
                unit_price=f.fen(sku, "goods_price", here, problems),
            )
        )
    post = f.integer(order, "post_amount", at, problems, required=False)
    paid_total = f.integer(order, "order_amount", at, problems)
    items = sum(
        sku["goods_price"] * sku["item_num"]
        for sku in order.get("sku_order_list") or []
        if isinstance(sku, Mapping) and isinstance(sku.get("goods_price"), int) and isinstance(sku.get("item_num"), int)
    )
    if created is None or status is None or problems.items:
        return None
    return OrderSubmission(
        channel=Channel.DOUYIN.value,
        channel_order_id=f.with_suffix(order_id, order),
        status=status.value,
        currency="CNY",
        placed_at=created,
        lines=lines,
        paid_at=paid if status is not S.PENDING_PAYMENT else None,
        cancelled_at=updated if status is S.CANCELLED else None,
        shipping_amount=f.fen(order, "post_amount", at, problems, required=False),
        discount_amount=f.fen({"d": max(items + post - paid_total, 0)}, "d", at, problems),
        total_amount=f.fen(order, "order_amount", at, problems),
        # The receiver's phone is only ever encrypted (encrypt_post_tel) or masked: no plaintext to hash.
        platform_buyer_id=f.text(order, "doudian_open_id", at, problems, required=False) or None,
        shop_code=f.text(order, "shop_id", at, problems, required=False) or None,
        raw_status=raw,
        attribution=f.attribution(payload),
    )


ADAPTER = Adapter(
    Channel.DOUYIN,
    "douyin.order",
    parse,
    frozenset({"order_status", "main_status", "sku_order_list[].order_status", "order_type", "pay_type"}),
    STATUSES,
    "order_status",
)
