"""What a push says, in the merchant's language: every text of a push lives here, so that a message catalog
can replace this module without a change anywhere else. Only zh-CN for now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.clock import local, zone
from domain.orders.status import OrderStatus


class PushReason(StrEnum):
    PACKED = "PACKED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    ETA_MOVED = "ETA_MOVED"


STATUS_NAMES = {
    OrderStatus.PENDING_PAYMENT: "待付款",
    OrderStatus.PAID: "已付款",
    OrderStatus.SHIP_REQUESTED: "待发货",
    OrderStatus.PICKED: "已拣货",
    OrderStatus.PACKED: "已打包",
    OrderStatus.SHIPPED: "已发货",
    OrderStatus.DELIVERED: "已送达",
    OrderStatus.COMPLETED: "已完成",
    OrderStatus.CANCELLED: "已取消",
    OrderStatus.REFUNDED: "已退款",
    OrderStatus.MERGED: "已合并",
    OrderStatus.VOID: "已作废",
}

NEXT_STEPS = {"PICKED": "拣货", "PACKED": "打包", "SHIPPED": "发货", "DELIVERED": "送达", "COMPLETED": "完成"}

TITLES = {
    PushReason.PACKED: "订单已打包",
    PushReason.SHIPPED: "订单已发货",
    PushReason.DELIVERED: "订单已送达",
    PushReason.ETA_MOVED: "预计时间有变",
}


@dataclass(frozen=True)
class Composed:
    title: str
    text: str


def local_time(moment: datetime, timezone: str) -> str:
    """As a buyer in the merchant's country reads a time: month, day and minute on the merchant's clock."""
    at = local(moment, zone(timezone))
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def compose(
    reason: PushReason,
    order_number: str,
    status: OrderStatus,
    predicted_at: datetime | None,
    predicted_stage: str | None,
    timezone: str,
) -> Composed:
    text = f"您的订单 {order_number} {STATUS_NAMES.get(status, status.value)}。"
    if reason is PushReason.ETA_MOVED:
        text = f"您的订单 {order_number}（{STATUS_NAMES.get(status, status.value)}）预计时间已更新。"
    if predicted_at is not None:
        step = NEXT_STEPS.get(predicted_stage or "", "进入下一步")
        text += f"预计 {local_time(predicted_at, timezone)} {step}。"
    return Composed(TITLES[reason], text)
