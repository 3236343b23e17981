"""What a push says: every sentence is a catalog key (English), rendered in the merchant's language when the
push is composed, since a buyer's phone has no Accept-Language for us and the shop speaks to its buyers in one
language (`ORDERHUB_MERCHANT_LANGUAGE`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.clock import local, zone
from domain.i18n import DEFAULT_LANGUAGE, Message, msg, render, tr, use_language
from domain.orders.status import OrderStatus


class PushReason(StrEnum):
    PACKED = "PACKED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    ETA_MOVED = "ETA_MOVED"


STATUS_NAMES: dict[OrderStatus, Message] = {
    OrderStatus.PENDING_PAYMENT: msg("awaiting payment"),
    OrderStatus.PAID: msg("paid"),
    OrderStatus.SHIP_REQUESTED: msg("awaiting shipment"),
    OrderStatus.PICKED: msg("picked"),
    OrderStatus.PACKED: msg("packed"),
    OrderStatus.SHIPPED: msg("shipped"),
    OrderStatus.DELIVERED: msg("delivered"),
    OrderStatus.COMPLETED: msg("completed"),
    OrderStatus.CANCELLED: msg("cancelled"),
    OrderStatus.REFUNDED: msg("refunded"),
    OrderStatus.MERGED: msg("merged"),
    OrderStatus.VOID: msg("void"),
}

NEXT_STEPS: dict[str, Message] = {
    "PICKED": msg("to be picked"),
    "PACKED": msg("to be packed"),
    "SHIPPED": msg("to be shipped"),
    "DELIVERED": msg("to be delivered"),
    "COMPLETED": msg("to be completed"),
}

TITLES: dict[PushReason, Message] = {
    PushReason.PACKED: msg("Order packed"),
    PushReason.SHIPPED: msg("Order shipped"),
    PushReason.DELIVERED: msg("Order delivered"),
    PushReason.ETA_MOVED: msg("Estimated time changed"),
}


@dataclass(frozen=True)
class Composed:
    title: str
    text: str


def local_time(moment: datetime, timezone: str) -> str:
    """As a buyer in the merchant's country reads a time: month, day and minute on the merchant's clock."""
    at = local(moment, zone(timezone))
    return tr("{month}/{day} {time}", month=at.month, day=at.day, time=f"{at:%H:%M}")


def compose(
    reason: PushReason,
    order_number: str,
    status: OrderStatus,
    predicted_at: datetime | None,
    predicted_stage: str | None,
    timezone: str,
    language: str = DEFAULT_LANGUAGE,
) -> Composed:
    with use_language(language):
        name = render(STATUS_NAMES[status]) if status in STATUS_NAMES else status.value
        text = tr("Your order {number} is {status}.", number=order_number, status=name)
        if reason is PushReason.ETA_MOVED:
            text = tr("The estimated time of your order {number} ({status}) changed.", number=order_number, status=name)
        if predicted_at is not None:
            step = NEXT_STEPS.get(predicted_stage or "", msg("to move to its next step"))
            expected = tr("Expected {step} by {time}.", step=step, time=local_time(predicted_at, timezone))
            text = tr("{sentence} {next_sentence}", sentence=text, next_sentence=expected)
        return Composed(render(TITLES[reason]), text)
