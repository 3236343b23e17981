"""A day of payment traffic with the faults finance meets, and the statements the providers send for it.

Every fault is planted once and its expected drift recorded, so a report can say "seen / expected".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sim.day import SimOrder
from sim.payment_providers import alipay_trade, wechat_refund, wechat_transaction
from sim.statements import CHINA, BillRow, yuan

PROVIDERS = ("wechatpay", "alipay", "lianlian")
WEIGHTS = (0.5, 0.35, 0.15)


@dataclass(frozen=True)
class Delivery:
    """One HTTP notification as a provider would send it, `delay_s` after the payment."""

    provider: str
    delay_s: float
    payload: dict[str, Any]
    event_type: str = "TRANSACTION.SUCCESS"
    fault: str = ""


@dataclass
class PaymentDay:
    deliveries: list[Delivery] = field(default_factory=list)
    statements: dict[str, list[BillRow]] = field(default_factory=dict)
    expected: Counter[str] = field(default_factory=Counter)
    duplicate_txn: str = ""
    coupon_txn: str = ""


def _local_iso(moment: datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def _delay(rng: Random) -> float:
    """Mostly seconds, sometimes minutes, now and then hours: what providers' retry queues do."""
    roll = rng.random()
    if roll < 0.8:
        return rng.uniform(0.5, 20)
    if roll < 0.95:
        return rng.uniform(60, 900)
    return rng.uniform(3600, 4 * 3600)


def generate_payments(orders: Sequence[SimOrder], now: datetime, seed: int, limit: int = 150) -> PaymentDay:
    rng = Random(f"payments:{seed}")
    paid = [o for o in orders if o.currency == "CNY" and o.paid_at is not None][:limit]
    cancelled = [o for o in orders if o.currency == "CNY" and o.cancelled_at is not None][:1]
    day = PaymentDay(statements={p: [] for p in PROVIDERS})
    by_provider: dict[str, list[tuple[SimOrder, str, datetime]]] = {p: [] for p in PROVIDERS}
    midnight = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    for i, order in enumerate(paid):
        provider = rng.choices(PROVIDERS, WEIGHTS)[0]
        when = max(now - timedelta(seconds=rng.uniform(60, 3 * 3600)), midnight + timedelta(seconds=i + 1))
        by_provider[provider].append((order, f"{provider[:2].upper()}{seed:03d}{i:07d}", when))
    _wechat(rng, day, by_provider["wechatpay"], cancelled, now)
    _alipay(rng, day, by_provider["alipay"])
    _generic(rng, day, by_provider["lianlian"])
    for delivery in list(day.deliveries):
        if not delivery.fault and rng.random() < 0.1:
            day.deliveries.append(Delivery(delivery.provider, delivery.delay_s + 180, delivery.payload,
                                           delivery.event_type, "resent"))  # fmt: skip
    day.deliveries.sort(key=lambda d: d.delay_s)
    return day


def _wechat(
    rng: Random, day: PaymentDay, paid: list[tuple[SimOrder, str, datetime]], cancelled: list[SimOrder], now: datetime
) -> None:
    rows = day.statements["wechatpay"]
    for n, (order, txn, when) in enumerate(paid):
        total = order.total_amount
        coupon = min(2000, total // 5) if n == 0 else 0
        resource = wechat_transaction(order.channel_order_id, txn, total, coupon=coupon, success_time=_local_iso(when))
        day.deliveries.append(Delivery("wechatpay", _delay(rng), resource))
        line = BillRow(when, txn, order.channel_order_id, "PAYMENT", total, coupon=coupon)
        if n == 0:
            day.coupon_txn = txn
        if n == 1:
            refund = total // 5
            refund_id = f"50{txn}"
            resource = wechat_refund(order.channel_order_id, txn, refund_id, refund, total)
            day.deliveries.append(Delivery("wechatpay", 7200, resource, "REFUND.SUCCESS"))
            rows.append(BillRow(when + timedelta(hours=1), refund_id, order.channel_order_id, "REFUND", refund,
                                payment_txn=txn))  # fmt: skip
        if n == 2:
            again = wechat_transaction(order.channel_order_id, f"{txn}R", total, success_time=_local_iso(when))
            day.deliveries.append(Delivery("wechatpay", 180, again, fault="re-minted transaction id"))
            day.expected["DUPLICATE_NOTIFICATION"] += 1
            day.duplicate_txn = f"{txn}R"
        if n == 3:
            line = BillRow(when, txn, order.channel_order_id, "PAYMENT", total - 1)
            day.expected["AMOUNT_MISMATCH"] += 1
        rows.append(line)
    for order in cancelled:
        when = now - timedelta(minutes=5)
        txn = f"WE-LATE-{order.channel_order_id}"[:32]
        resource = wechat_transaction(order.channel_order_id, txn, order.total_amount, success_time=_local_iso(when))
        day.deliveries.append(Delivery("wechatpay", 3 * 3600, resource, fault="after the order was cancelled"))
        rows.append(BillRow(when, txn, order.channel_order_id, "PAYMENT", order.total_amount))
        day.expected["DELAYED_CALLBACK"] += 1


def _alipay(rng: Random, day: PaymentDay, paid: list[tuple[SimOrder, str, datetime]]) -> None:
    rows = day.statements["alipay"]
    for n, (order, txn, when) in enumerate(paid):
        fields = alipay_trade(order.channel_order_id, txn, yuan(order.total_amount))
        fields["gmt_payment"] = when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        line = BillRow(when, txn, order.channel_order_id, "PAYMENT", order.total_amount)
        rows.append(line)
        if n == 0:
            day.expected["MISSING_IN_SYSTEM"] += 1
            continue  # the notification is lost
        if n == 1:
            rows.append(line)
            day.expected["DUPLICATE_IN_STATEMENT"] += 1
        day.deliveries.append(Delivery("alipay", _delay(rng), fields))


def _generic(rng: Random, day: PaymentDay, paid: list[tuple[SimOrder, str, datetime]]) -> None:
    rows = day.statements["lianlian"]
    for n, (order, txn, when) in enumerate(paid):
        payload = {"transaction_id": txn, "kind": "payment", "order_ref": order.channel_order_id,
                   "amount": yuan(order.total_amount), "currency": "CNY", "status": "confirmed",
                   "occurred_at": _local_iso(when)}  # fmt: skip
        day.deliveries.append(Delivery("lianlian", _delay(rng), payload))
        line = BillRow(when, txn, order.channel_order_id, "PAYMENT", order.total_amount)
        if n == 0:
            day.expected["MISSING_IN_STATEMENT"] += 1
            continue
        if n == 1:
            line = BillRow(when, txn, order.channel_order_id, "REFUND", order.total_amount)
            day.expected["STATUS_MISMATCH"] += 1
        if n == 2:
            line = BillRow(when, txn, order.channel_order_id, "PAYMENT", order.total_amount, currency="USD")
            day.expected["CURRENCY_MISMATCH"] += 1
        rows.append(line)
