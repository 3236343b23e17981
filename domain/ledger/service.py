"""Posting payment notifications exactly once, and reversing a posting exactly once.

The database decides every race: the voucher key (provider, transaction id, kind) is unique and
inserted with ON CONFLICT DO NOTHING, the PENDING -> CONFIRMED step is a conditional update, and a
reversal is unique on the voucher it reverses. Whoever loses a race sees the winner's row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import UserError
from domain.fulfilment.exceptions import open_exception, resolve_exception
from domain.fulfilment.models import ExceptionKind, OrderException
from domain.i18n import Message, msg
from domain.i18n.stored import joined, render_sentence, stored_sentences
from domain.identity.service import payment_target
from domain.ledger.checks import PostedPayment, check_payment, unmatched_key
from domain.ledger.errors import MoneyErrorCode
from domain.ledger.models import FundVoucher, FundVoucherConflict, OrderAdjustment, VoucherKind, VoucherStatus
from domain.money import Money
from domain.orders.models import Order, OrderSupersession
from domain.outbox.service import Outbox
from domain.sql import dialect, insert_ignore, insert_or_count_repeat

PAYMENT_TOPIC = "payments"
"""Confirmed payments, published after commit once per voucher (partner webhooks read them)."""

VOUCHER_KEY = ("provider", "provider_txn_id", "kind")
PROVIDER_ACTOR = "provider"


@dataclass(frozen=True)
class PaymentNotice:
    """What a provider told us, in orderhub's terms; `amount` is signed (refunds negative)."""

    provider: str
    provider_txn_id: str
    kind: VoucherKind
    order_ref: str | None
    amount: int
    currency: str
    status: VoucherStatus
    provider_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)
    payee: dict[str, str] = field(default_factory=dict)  # whom the provider says it paid: mchid, seller_id, ...


class PostingOutcome(StrEnum):
    POSTED = "POSTED"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"


@dataclass(frozen=True)
class Posting:
    outcome: PostingOutcome
    voucher_id: int
    conflict_id: int | None = None


def differences(existing: FundVoucher, notice: PaymentNotice) -> list[Message]:
    """What makes a repeated key a conflict. A provider confirming what it announced as pending is progress,
    and our own reversal of a confirmed voucher is not the provider's business."""
    found = []
    if existing.amount != notice.amount:
        found.append(msg("amount {posted} != {notified}", posted=existing.amount, notified=notice.amount))
    if existing.currency != notice.currency:
        found.append(msg("currency {posted} != {notified}", posted=existing.currency, notified=notice.currency))
    settled = {VoucherStatus.CONFIRMED, VoucherStatus.REVERSED}
    if notice.status == VoucherStatus.PENDING and existing.status in settled:
        found.append(msg("status {posted} != {notified}", posted=existing.status, notified=notice.status.value))
    return found


async def resolve_order(session: AsyncSession, order_ref: str | None) -> int | None:
    """The provider knows our order number (out_trade_no); it is one channel order id, if unambiguous.
    A payment for a grouped duplicate belongs to the group's parent order."""
    if not order_ref:
        return None
    # one read for the common case: the order, its parent and its successor (a supersession is keyed by the old order)
    query = (
        select(Order.id, Order.parent_order_id, OrderSupersession.new_order_id)
        .outerjoin(OrderSupersession, col(OrderSupersession.old_order_id) == Order.id)
        .where(Order.channel_order_id == order_ref)
        .limit(2)
    )
    found = (await session.exec(query)).all()
    if len(found) != 1 or found[0][0] is None:
        return None
    order_id, parent_id, successor_id = found[0]
    if successor_id is not None:
        return await payment_target(session, successor_id)
    return parent_id if parent_id is not None else int(order_id)


async def post_notice(
    session: AsyncSession,
    notice: PaymentNotice,
    *,
    outbox: Outbox,
    inbound_message_id: int | None = None,
    received_at: datetime | None = None,
) -> Posting:
    """`received_at` is when the notification reached us (the recorded message's arrival), not when it is posted."""
    now = received_at or utcnow()
    order_id = await resolve_order(session, notice.order_ref)
    if order_id is not None:
        await _lock_order(session, order_id)
    values: dict[str, Any] = {
        "provider": notice.provider,
        "provider_txn_id": notice.provider_txn_id,
        "kind": notice.kind.value,
        "order_ref": notice.order_ref,
        "order_id": order_id,
        "amount": notice.amount,
        "currency": notice.currency,
        "status": notice.status.value,
        "raw": notice.raw,
        "inbound_message_id": inbound_message_id,
        "provider_time": notice.provider_time,
        "received_at": now,
        "repeats": 0,
    }
    new_id = await insert_ignore(session, FundVoucher, values, VOUCHER_KEY)
    if new_id is not None:
        if notice.status == VoucherStatus.CONFIRMED:
            if order_id is not None:
                await _adjust(
                    session, order_id, new_id, notice.amount, notice.currency, PROVIDER_ACTOR, msg("payment notified")
                )
            await _check(session, outbox, notice, new_id, order_id, inbound_message_id, now)
        return Posting(PostingOutcome.POSTED, new_id)

    existing = await _voucher_by_key(session, notice)
    assert existing.id is not None
    found = differences(existing, notice)
    if found:
        conflict_id, first_time = await _record_conflict(session, existing.id, notice, found, inbound_message_id, now)
        if first_time:
            summary = msg(
                "{provider} {transaction} ({kind}): {differences}", provider=notice.provider,
                transaction=notice.provider_txn_id, kind=notice.kind.value, differences=joined(found),
            )  # fmt: skip
            details = {"voucher_id": existing.id, "conflict_id": conflict_id}
            await open_exception(
                session, outbox, ExceptionKind.VOUCHER_CONFLICT, summary, order_id=existing.order_id, details=details
            )
        return Posting(PostingOutcome.CONFLICT, existing.id, conflict_id)
    if notice.status == VoucherStatus.CONFIRMED and existing.status == VoucherStatus.PENDING:
        confirmed = await session.exec(
            update(FundVoucher)
            .where(col(FundVoucher.id) == existing.id, col(FundVoucher.status) == VoucherStatus.PENDING)
            .values(status=VoucherStatus.CONFIRMED, raw=notice.raw, provider_time=notice.provider_time)
        )
        if confirmed.rowcount == 1:
            if existing.order_id is not None:
                await _adjust(
                    session, existing.order_id, existing.id, existing.amount, existing.currency,
                    PROVIDER_ACTOR, msg("payment confirmed"),
                )  # fmt: skip
            await _check(session, outbox, notice, existing.id, existing.order_id, inbound_message_id, now)
            return Posting(PostingOutcome.POSTED, existing.id)
    await session.exec(
        update(FundVoucher).where(col(FundVoucher.id) == existing.id).values(repeats=FundVoucher.repeats + 1)
    )
    return Posting(PostingOutcome.DUPLICATE, existing.id)


async def _lock_order(session: AsyncSession, order_id: int) -> None:
    """One order's payments post one at a time, so each is checked against a sum that includes the others;
    taken before the voucher's foreign keys share-lock the row, so two payments cannot deadlock."""
    if dialect(session) == "postgresql":
        await session.exec(select(Order.id).where(Order.id == order_id).with_for_update())


async def _check(
    session: AsyncSession,
    outbox: Outbox,
    notice: PaymentNotice,
    voucher_id: int,
    order_id: int | None,
    inbound_message_id: int | None,
    now: datetime,
) -> None:
    """Runs once per voucher, on the step that confirmed it: only a payment can pay an order."""
    if notice.kind is not VoucherKind.PAYMENT:
        return
    outbox.publish(
        PAYMENT_TOPIC,
        {
            "voucher_id": voucher_id, "order_id": order_id, "provider": notice.provider,
            "provider_txn_id": notice.provider_txn_id, "amount": notice.amount, "currency": notice.currency,
        },
    )  # fmt: skip
    payment = PostedPayment(
        voucher_id, notice.provider, notice.provider_txn_id, order_id, Money(notice.amount, notice.currency),
        notice.provider_time or now, inbound_message_id,
    )  # fmt: skip
    await check_payment(session, outbox, payment)


async def _voucher_by_key(session: AsyncSession, notice: PaymentNotice) -> FundVoucher:
    statement = select(FundVoucher).where(
        FundVoucher.provider == notice.provider,
        FundVoucher.provider_txn_id == notice.provider_txn_id,
        FundVoucher.kind == notice.kind.value,
    )
    return (await session.exec(statement.execution_options(populate_existing=True))).one()


async def _record_conflict(
    session: AsyncSession,
    voucher_id: int,
    notice: PaymentNotice,
    found: list[Message],
    inbound_message_id: int | None,
    now: datetime,
) -> tuple[int, bool]:
    """The same conflicting claim sent again is counted on its first record, not stored twice."""
    fingerprint = hashlib.sha256(
        json.dumps([notice.amount, notice.currency, notice.status.value], separators=(",", ":")).encode()
    ).hexdigest()
    values: dict[str, Any] = {
        "voucher_id": voucher_id,
        "fingerprint": fingerprint,
        "amount": notice.amount,
        "currency": notice.currency,
        "status": notice.status.value,
        "differences": str(joined(found)),
        "raw": notice.raw,
        "inbound_message_id": inbound_message_id,
        "received_at": now,
        "repeats": 0,
    }
    return await insert_or_count_repeat(session, FundVoucherConflict, values, ("voucher_id", "fingerprint"))


def adjustment_reason_of(row: OrderAdjustment) -> str:
    """Why the received amount changed: orderhub's words in the reader's language, a person's as typed."""
    return render_sentence(row.sentences, "reason", row.reason)


async def _adjust(
    session: AsyncSession, order_id: int, voucher_id: int, amount: int, currency: str, actor: str, reason: Message | str
) -> None:
    """`reason` is a sentence of ours, or a person's words as they typed them (a reversal's)."""
    values: dict[str, Any] = {
        "order_id": order_id,
        "voucher_id": voucher_id,
        "amount": amount,
        "currency": currency,
        "actor": actor,
        "reason": str(reason),
        "sentences": stored_sentences(reason=reason),
        "created_at": utcnow(),
    }
    await insert_ignore(session, OrderAdjustment, values, ("voucher_id",))


async def reverse_voucher(session: AsyncSession, voucher_id: int, *, actor: str, reason: str) -> FundVoucher:
    """Appends the reversing voucher and its adjustment; a second reversal of the same voucher is refused."""
    if not reason.strip():
        raise UserError.one(("reason",), msg("a reversal needs a reason"), MoneyErrorCode.REASON_REQUIRED)
    original = await session.get(FundVoucher, voucher_id, populate_existing=True)
    if original is None or original.id is None:
        raise UserError.one(
            ("voucher_id",), msg("no voucher {voucher_id}", voucher_id=voucher_id), MoneyErrorCode.NOT_FOUND
        )
    if original.kind == VoucherKind.REVERSAL:
        raise UserError.one(("voucher_id",), msg("a reversal cannot itself be reversed"), MoneyErrorCode.NOT_REVERSIBLE)
    if original.status == VoucherStatus.PENDING:
        raise UserError.one(
            ("voucher_id",), msg("only a confirmed voucher can be reversed"), MoneyErrorCode.NOT_CONFIRMED
        )
    now = utcnow()
    values: dict[str, Any] = {
        "provider": original.provider,
        "provider_txn_id": f"{original.provider_txn_id}:{original.kind}"[:100],
        "kind": VoucherKind.REVERSAL.value,
        "order_ref": original.order_ref,
        "order_id": original.order_id,
        "amount": -original.amount,
        "currency": original.currency,
        "status": VoucherStatus.CONFIRMED.value,
        "raw": {},
        "reverses_id": original.id,
        "actor": actor,
        "reason": reason,
        "provider_time": None,
        "received_at": now,
        "repeats": 0,
    }
    new_id = await insert_ignore(session, FundVoucher, values, ("reverses_id",))
    if new_id is None:
        raise UserError.one(
            ("voucher_id",),
            msg("voucher {voucher_id} is already reversed", voucher_id=voucher_id),
            MoneyErrorCode.ALREADY_REVERSED,
        )
    await session.exec(
        update(FundVoucher).where(col(FundVoucher.id) == original.id).values(status=VoucherStatus.REVERSED)
    )
    if original.order_id is not None:
        await _adjust(session, original.order_id, new_id, -original.amount, original.currency, actor, reason)
    reversal = await session.get(FundVoucher, new_id)
    assert reversal is not None
    return reversal


async def reattach_voucher(
    session: AsyncSession, outbox: Outbox, voucher_id: int, order_id: int, *, actor: str, reason: str
) -> FundVoucher:
    """Moves a confirmed payment out of suspense onto the order it was meant for, once, and runs the same
    checks a notification for that order would have run; the voucher's unmatched exception is resolved."""
    if not reason.strip():
        raise UserError.one(("reason",), msg("a re-attach needs a reason"), MoneyErrorCode.REASON_REQUIRED)
    voucher = await session.get(FundVoucher, voucher_id, populate_existing=True)
    if voucher is None or voucher.id is None:
        raise UserError.one(
            ("voucher_id",), msg("no voucher {voucher_id}", voucher_id=voucher_id), MoneyErrorCode.NOT_FOUND
        )
    if await session.get(Order, order_id) is None:
        raise UserError.one(("order_id",), msg("no order {order_id}", order_id=order_id), MoneyErrorCode.NOT_FOUND)
    target = await payment_target(session, order_id)
    await _lock_order(session, target)
    attached = await session.exec(
        update(FundVoucher)
        .where(
            col(FundVoucher.id) == voucher_id,
            col(FundVoucher.order_id).is_(None),
            col(FundVoucher.kind) == VoucherKind.PAYMENT,
            col(FundVoucher.status) == VoucherStatus.CONFIRMED,
        )
        .values(order_id=target)
    )
    if attached.rowcount != 1:
        raise UserError.one(
            ("voucher_id",),
            msg("only a confirmed payment in suspense can be re-attached"),
            MoneyErrorCode.NOT_IN_SUSPENSE,
        )
    voucher.order_id = target
    await _adjust(
        session,
        target,
        voucher.id,
        voucher.amount,
        voucher.currency,
        actor,
        msg("re-attached: {reason}", reason=reason),
    )
    unmatched = (
        await session.exec(select(OrderException.id).where(OrderException.dedup_key == unmatched_key(voucher.id)))
    ).first()
    if unmatched is not None:
        resolution = msg("re-attached to order {order_id}: {reason}", order_id=order_id, reason=reason)
        await resolve_exception(session, outbox, unmatched, actor, resolution)
    payment = PostedPayment(
        voucher.id, voucher.provider, voucher.provider_txn_id, target, Money(voucher.amount, voucher.currency),
        voucher.provider_time or voucher.received_at, voucher.inbound_message_id,
    )  # fmt: skip
    await check_payment(session, outbox, payment, actor=f"provider:{voucher.provider}, re-attached by {actor}")
    await outbox.flush(session)
    return voucher


async def received_amount(session: AsyncSession, order_id: int) -> list[Money]:
    """One sum per currency: an order paid in two currencies has two received amounts, never one."""
    rows = (
        await session.exec(
            select(OrderAdjustment.currency, func.sum(OrderAdjustment.amount))
            .where(OrderAdjustment.order_id == order_id)
            .group_by(col(OrderAdjustment.currency))
            .order_by(col(OrderAdjustment.currency))
        )
    ).all()
    return [Money(int(total or 0), currency) for currency, total in rows]
