"""Recorded payment notifications of one provider played back through today's parser and the ledger's
exactly-once posting (`domain.ledger.service.post_notice`).

Only notifications whose signature was valid when they arrived are replayed: a signature cannot be checked
again later (WeChat Pay's carries a timestamp that ages out), and an unsigned body must never move money.
A dry run says, per notification, whether it would post, is on file already (same provider, transaction and
kind, nothing left to confirm), moves no money, or is refused. Applying posts only those that would post,
each in a savepoint of its own; the ledger's voucher key keeps a second apply from posting anything, and an
on-file notice is skipped rather than counted as a repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import UserError
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.intake.vault import Vault
from domain.ledger.checks import refuse_misaddressed
from domain.ledger.models import FundVoucher, VoucherStatus
from domain.ledger.providers import alipay, generic, wechatpay
from domain.ledger.providers.verdict import NoticeRejected, check_storable
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from domain.pipeline.payment import KIND
from domain.pipeline.record import mark_outcome
from domain.settings import Settings

MAX_REPLAY = 1000


class PaymentVerdict(StrEnum):
    POST = "POST"
    ON_FILE = "ON_FILE"
    NO_MONEY = "NO_MONEY"
    REFUSED = "REFUSED"


@dataclass
class ReplayedPayment:
    message_id: int
    received_at: datetime
    verdict: PaymentVerdict
    provider_txn_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    error: str | None = None
    applied: bool = False
    outcome: str | None = None


def notice_reader(settings: Settings, provider: str) -> Callable[[bytes], PaymentNotice | None]:
    """The provider's own parser, as the notify endpoint uses it."""
    if provider == wechatpay.PROVIDER:
        key = settings.wechatpay_apiv3_key.get_secret_value().encode() if settings.wechatpay_apiv3_key else b""
        return lambda body: wechatpay.parse_notification(body, key)
    if provider == alipay.PROVIDER:
        return lambda body: alipay.parse_notification(alipay.form_fields(body))
    return lambda body: generic.parse_notification(provider, body)


async def replay_payments(
    session: AsyncSession,
    vault: Vault,
    settings: Settings,
    provider: str,
    start: datetime | None,
    end: datetime | None,
    *,
    apply: bool = False,
) -> list[ReplayedPayment]:
    """Dry run unless `apply`; the caller owns the unit of work (and rolls a dry run back)."""
    read = notice_reader(settings, provider)
    query = (
        select(InboundMessage)
        .where(
            InboundMessage.source == f"payments:{provider}",
            InboundMessage.kind == KIND,
            InboundMessage.signature == SignatureVerdict.VALID,
        )
        .order_by(col(InboundMessage.id))
        .limit(MAX_REPLAY)
    )
    if start is not None:
        query = query.where(col(InboundMessage.received_at) >= start)
    if end is not None:
        query = query.where(col(InboundMessage.received_at) < end)
    results = []
    for message in (await session.exec(query)).all():
        assert message.id is not None
        item = ReplayedPayment(message.id, message.received_at, PaymentVerdict.POST)
        try:
            notice = _notice(read, vault.open(message.body), settings)
        except ValueError as exc:
            item.verdict, item.error = PaymentVerdict.REFUSED, str(exc)
            results.append(item)
            continue
        if notice is None:
            item.verdict = PaymentVerdict.NO_MONEY
            results.append(item)
            continue
        item.provider_txn_id, item.amount, item.currency = notice.provider_txn_id, notice.amount, notice.currency
        if await _on_file(session, notice):
            item.verdict = PaymentVerdict.ON_FILE
        elif apply:
            try:
                async with session.begin_nested():
                    outbox = Outbox()
                    posting = await post_notice(
                        session, notice, outbox=outbox, inbound_message_id=message.id, received_at=message.received_at
                    )
                    await outbox.flush(session)
                    if message.outcome != Outcome.APPLIED:
                        await mark_outcome(session, message.id, Outcome.APPLIED, "posted by replay")
                item.applied, item.outcome = True, posting.outcome.value
            except UserError as error:
                item.verdict, item.error = PaymentVerdict.REFUSED, error.worded()
        results.append(item)
    return results


def _notice(read: Callable[[bytes], PaymentNotice | None], body: bytes, settings: Settings) -> PaymentNotice | None:
    """Raises ValueError with the reason today's parser or checks refuse the notification."""
    try:
        notice = read(body)
        if notice is not None:
            check_storable(notice)
        return refuse_misaddressed(notice, settings)
    except NoticeRejected as exc:
        raise ValueError(str(exc)) from exc
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise ValueError(f"malformed notification: {type(exc).__name__}: {exc}") from exc


async def _on_file(session: AsyncSession, notice: PaymentNotice) -> bool:
    """On file and nothing left to do: a PENDING voucher a CONFIRMED notice would confirm is not."""
    voucher = (
        await session.exec(
            select(FundVoucher).where(
                FundVoucher.provider == notice.provider,
                FundVoucher.provider_txn_id == notice.provider_txn_id,
                FundVoucher.kind == notice.kind.value,
            )
        )
    ).first()
    if voucher is None:
        return False
    return not (notice.status == VoucherStatus.CONFIRMED and voucher.status == VoucherStatus.PENDING)
