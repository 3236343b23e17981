"""A correctly signed notification is a fact that money moved, not a command to mark an order paid.

Before anything is posted, `refuse_misaddressed` refuses what was never this merchant's money: another
merchant's or app's notice, a currency that is not ISO 4217, a payment of nothing. Everything else is posted,
and `check_payment` then compares a confirmed payment with what its order is due: only an exact match of
currency and amount moves the order to PAID. Any other payment leaves the order where it was and opens a typed
exception naming what staff can do: reverse the voucher (the refund) or re-attach a suspense voucher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import ExceptionKind
from domain.i18n import Message, msg
from domain.intake.models import SignatureVerdict
from domain.ledger.models import OrderAdjustment, VoucherKind
from domain.ledger.providers.verdict import NoticeRejected
from domain.money import Money, MoneyError, check_currency
from domain.orders.models import Order
from domain.orders.service import Change, Provenance, append_event, move_order, save_order
from domain.orders.status import ENDED_UNFULFILLED, EventType, OrderStatus, Source
from domain.outbox.service import Outbox
from domain.settings import Settings
from domain.sql import dialect

if TYPE_CHECKING:
    from domain.ledger.service import PaymentNotice


class StaffAction(StrEnum):
    """What finance can do about a payment that did not pay its order."""

    REFUND = "REFUND"  # reverseVoucher: the money goes back out of the order's (or suspense's) balance
    REATTACH = "REATTACH"  # reattachVoucher: a suspense voucher joins the order it was meant for


def merchant_ids(settings: Settings) -> dict[tuple[str, str], str | None]:
    """(provider, field the provider names the payee in) -> this merchant's own value; None is not checked."""
    return {
        ("wechatpay", "mchid"): settings.wechatpay_mchid,
        ("wechatpay", "appid"): settings.wechatpay_appid,
        ("alipay", "seller_id"): settings.alipay_seller_id,
        ("alipay", "app_id"): settings.alipay_app_id,
    }


def refuse_misaddressed(notice: PaymentNotice | None, settings: Settings) -> PaymentNotice | None:
    """Raises NoticeRejected for money that is not this merchant's to book; the signature was valid."""
    if notice is None:
        return None
    ours = merchant_ids(settings)
    for name, value in sorted(notice.payee.items()):
        expected = ours.get((notice.provider, name))
        if expected is not None and value != expected:
            raise NoticeRejected(f"{name} {value!r} is not this merchant's ({expected!r})", SignatureVerdict.VALID)
    try:
        check_currency(notice.currency)
    except MoneyError as exc:
        raise NoticeRejected(str(exc), SignatureVerdict.VALID) from exc
    inbound = notice.kind is VoucherKind.PAYMENT
    if (notice.amount <= 0) if inbound else (notice.amount >= 0):
        raise NoticeRejected(f"a {notice.kind.value.lower()} of {notice.amount} moves no money", SignatureVerdict.VALID)
    return notice


@dataclass(frozen=True)
class PostedPayment:
    """A confirmed payment voucher as posted; `order_id` None means it sits in suspense."""

    voucher_id: int
    provider: str
    provider_txn_id: str
    order_id: int | None
    money: Money
    paid_at: datetime
    inbound_message_id: int | None = None


async def check_payment(
    session: AsyncSession, outbox: Outbox, payment: PostedPayment, *, actor: str | None = None
) -> ExceptionKind | None:
    """Moves a PENDING_PAYMENT order to PAID when what it received equals what it is due, in its currency;
    otherwise opens the exception that says why not. Returns the kind opened, None when the payment fits."""
    label = msg(
        "{provider} {transaction} paid {amount}",
        provider=payment.provider,
        transaction=payment.provider_txn_id,
        amount=str(payment.money),
    )
    if payment.order_id is None:
        await _open(
            session, outbox, ExceptionKind.UNMATCHED_PAYMENT,
            msg("{payment} for no known order: held in suspense", payment=label),
            payment, None, (StaffAction.REATTACH, StaffAction.REFUND), dedup_key=unmatched_key(payment.voucher_id),
        )  # fmt: skip
        return ExceptionKind.UNMATCHED_PAYMENT
    order = await session.get(
        Order, payment.order_id, with_for_update=dialect(session) == "postgresql", populate_existing=True
    )
    assert order is not None and order.id is not None
    due = Money(order.total_amount, order.currency)
    received = await _received(session, order.id, order.currency)
    kind: ExceptionKind | None = None
    why: Message | None = None
    if OrderStatus(order.status) in ENDED_UNFULFILLED:
        kind, why = ExceptionKind.PAYMENT_ON_CLOSED_ORDER, msg("the order is {status}", status=order.status)
    elif payment.money.currency != order.currency:
        kind, why = ExceptionKind.PAYMENT_CURRENCY_MISMATCH, msg("the order is due {due}", due=str(due))
    elif received != due:
        amounts = {"due": str(due), "received": str(received)}
        why = (
            msg("underpaid: due {due}, received {received}", **amounts)
            if received.minor < due.minor
            else msg("overpaid: due {due}, received {received}", **amounts)
        )
        kind = ExceptionKind.PAYMENT_AMOUNT_MISMATCH
    by = Provenance(Source.SYSTEM, actor or f"provider:{payment.provider}", payment.inbound_message_id)
    if kind is not None and why is not None:
        details_extra = {"due": str(due), "received": str(received), "order_status": order.status}
        exception_id = await _open(
            session,
            outbox,
            kind,
            msg("{payment}; {reason}", payment=label, reason=why),
            payment,
            order.id,
            (StaffAction.REFUND,),
            extra=details_extra,
        )
        opened = {"exception_id": exception_id, "kind": kind.value, "voucher_id": payment.voucher_id}
        change = Change(EventType.EXCEPTION_OPENED, OrderStatus(order.status), payment.paid_at, opened)
        await append_event(session, outbox, order, change, by)
        await save_order(session, order, {})
        return kind
    if order.status == OrderStatus.PENDING_PAYMENT:
        await move_order(session, outbox, order, EventType.ORDER_PAID, payment.paid_at, by,
                         {"voucher_id": payment.voucher_id, "amount": str(payment.money)})  # fmt: skip
    return None


def unmatched_key(voucher_id: int) -> str:
    return f"unmatched-payment:{voucher_id}"


async def _received(session: AsyncSession, order_id: int, currency: str) -> Money:
    total = (
        await session.exec(
            select(func.sum(OrderAdjustment.amount)).where(
                OrderAdjustment.order_id == order_id, OrderAdjustment.currency == currency
            )
        )
    ).one()
    return Money(int(total or 0), currency)


async def _open(
    session: AsyncSession,
    outbox: Outbox,
    kind: ExceptionKind,
    summary: Message,
    payment: PostedPayment,
    order_id: int | None,
    actions: tuple[StaffAction, ...],
    *,
    dedup_key: str | None = None,
    extra: dict[str, str] | None = None,
) -> int | None:
    details = {
        "voucher_id": payment.voucher_id, "provider": payment.provider,
        "provider_transaction_id": payment.provider_txn_id, "paid": str(payment.money),
        "actions": [a.value for a in actions], **(extra or {}),
    }  # fmt: skip
    return await open_exception(session, outbox, kind, summary, order_id=order_id, details=details, dedup_key=dedup_key)
