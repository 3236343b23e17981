"""The merchant's own examples, planted: a buyer's phone behind a six-star mask, duplicate orders that each
carry an invoice request, a payment provider that adds a field to its notifications, and a bank that renames
a statement column. Each comes with the truth the demo checks orderhub against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any

from sim.statements import BillRow, bank_csv

COMPANY_TAX_ID = "91350100M000100Y43"  # a published, valid unified social credit code
ADDED_FIELD = "fee_amount"
RENAMED = ("memo", "remark")
MOBILE_PREFIXES = ("138", "139", "186", "158")


@dataclass(frozen=True)
class UpstreamsDay:
    phone: str
    six_star: str
    region: str
    invoice_buyer_phone: str
    invoice: dict[str, Any]
    notifications_before: list[dict[str, Any]]
    notifications_after: list[dict[str, Any]]
    statement_before: bytes
    statement_after: bytes


def six_star(phone: str) -> str:
    """How some channels mask: six stars where the number has four hidden digits."""
    return phone[:3] + "******" + phone[7:]


def _phone(rng: Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


def _notification(rng: Random, n: int, at: datetime, *, added: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "transaction_id": f"LL-UP-{n:04d}", "kind": "payment", "order_ref": f"UP-NO-ORDER-{n}",
        "amount": f"{rng.randrange(1000, 30000) / 100:.2f}", "currency": "CNY", "status": "confirmed",
        "occurred_at": at.isoformat(),
    }  # fmt: skip
    if added:
        payload[ADDED_FIELD] = f"{rng.randrange(1, 200) / 100:.2f}"
    return payload


def order_input(
    order_id: str,
    channel: str,
    placed_at: str,
    *,
    buyer: dict[str, Any],
    paid: bool = False,
    invoice: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A GraphQL `OrderInput` of one 95.90 yuan line, as a bridge sends it."""
    body: dict[str, Any] = {
        "channel": channel, "channelOrderId": order_id, "currencyCode": "CNY", "placedAt": placed_at,
        "status": "PAID" if paid else "PENDING_PAYMENT",
        "lines": [{"sku": "SKU-TEA-001", "title": "明前龙井 250g", "quantity": 1, "unitPrice": "95.90"}],
        "buyer": buyer,
    }  # fmt: skip
    if paid:
        body["paidAt"] = placed_at
    if invoice is not None:
        body["invoice"] = invoice
    return body


def generate_upstreams_day(seed: int, day: date, notifications: int = 6) -> UpstreamsDay:
    rng = Random(f"orderhub-sim-upstreams:{seed}:{day.isoformat()}")
    start = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    phone = _phone(rng)
    rows = [BillRow(start + timedelta(minutes=i), f"B-UP-{i}", f"UP-{i}", "PAYMENT", rng.randrange(100, 9000))
            for i in range(4)]  # fmt: skip
    old, new = RENAMED
    return UpstreamsDay(
        phone=phone,
        six_star=six_star(phone),
        region=rng.choice(("310104", "110105", "440305")),
        invoice_buyer_phone=_phone(rng),
        invoice={
            "title": "杭州明前茶业有限公司",
            "taxId": COMPANY_TAX_ID,
            "kind": "NORMAL",
            "email": "tax@tea.example",
        },
        notifications_before=[_notification(rng, i, start, added=False) for i in range(notifications)],
        notifications_after=[_notification(rng, 100 + i, start, added=True) for i in range(2)],
        statement_before=bank_csv(rows[:2]),
        statement_after=bank_csv(rows[2:]).replace(old.encode(), new.encode(), 1),
    )
