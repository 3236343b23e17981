"""Payments orderhub expects and holds no voucher for: the gaps a payment query may close.

Two kinds: an order the channel reported paid, with no payment voucher some minutes later (its notification
was lost or is late), and a statement line reconciliation classified MISSING_IN_SYSTEM. A gap is asked about
at most once per interval and a bounded number of times, so a provider that never heard of an order is not
asked forever. What the provider answers is posted by the payment pipeline like a notification; this module
only finds the gaps and writes down each question's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, exists, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger.models import FundVoucher, PaymentQuery, VoucherKind
from domain.ledger.providers.answer import QueryOutcome
from domain.orders.models import Order
from domain.orders.status import OrderStatus
from domain.reconcile.models import Drift, ReconItem, Statement, StatementLine

QUERY_ACTOR = "payment query"


class GapReason(StrEnum):
    PAID_WITHOUT_VOUCHER = "PAID_WITHOUT_VOUCHER"
    MISSING_IN_SYSTEM = "MISSING_IN_SYSTEM"


@dataclass(frozen=True)
class Gap:
    provider: str
    out_trade_no: str
    reason: GapReason
    order_id: int | None = None
    recon_item_id: int | None = None
    recon_run_id: int | None = None


@dataclass(frozen=True)
class GapPolicy:
    """`providers` says which provider takes each channel's payments (the channel's order number is the
    provider's out_trade_no); `after` is how long a notification may be late before we ask."""

    providers: dict[str, str]
    after: timedelta
    window: timedelta
    attempts: int
    limit: int = 200


async def find_gaps(session: AsyncSession, policy: GapPolicy, now: datetime) -> list[Gap]:
    return [*await unvouchered_orders(session, policy, now), *await missing_in_system(session, policy, now)]


def _asked(policy: GapPolicy, now: datetime, *match: ColumnElement[bool]) -> tuple[Any, Any]:
    """(asked too often, asked too recently) for the gap the conditions `match` name."""
    attempts = select(func.count()).select_from(PaymentQuery).where(*match).scalar_subquery()
    recent = exists().where(*match, col(PaymentQuery.asked_at) > now - policy.after)
    return attempts >= policy.attempts, recent


async def unvouchered_orders(session: AsyncSession, policy: GapPolicy, now: datetime) -> list[Gap]:
    """Orders paid (as their channel says) at least `after` ago, within the window, with no payment voucher."""
    channels = sorted(policy.providers)
    voucher = exists().where(col(FundVoucher.order_id) == Order.id, col(FundVoucher.kind) == VoucherKind.PAYMENT.value)
    too_often, too_recent = _asked(
        policy, now, col(PaymentQuery.order_id) == Order.id, col(PaymentQuery.reason) == GapReason.PAID_WITHOUT_VOUCHER
    )
    # A cancelled order is still asked about: money it received is held for a refund (PAYMENT_ON_CLOSED_ORDER).
    # A grouped or superseded one is paid through the order that stands, which is asked about itself.
    skipped = [OrderStatus.MERGED.value, OrderStatus.VOID.value]
    query = (
        select(Order.id, Order.channel, Order.channel_order_id)
        .where(
            col(Order.channel).in_(channels),
            col(Order.paid_at).is_not(None),
            col(Order.paid_at) <= now - policy.after,
            col(Order.paid_at) > now - policy.window,
            col(Order.status).not_in(skipped),
            ~voucher,
            ~too_often,
            ~too_recent,
        )
        .order_by(col(Order.id))
        .limit(policy.limit)
    )
    rows = (await session.exec(query)).all()
    return [
        Gap(policy.providers[channel], ref, GapReason.PAID_WITHOUT_VOUCHER, order_id=oid) for oid, channel, ref in rows
    ]


async def missing_in_system(session: AsyncSession, policy: GapPolicy, now: datetime) -> list[Gap]:
    """Unresolved MISSING_IN_SYSTEM items of payments whose line names our order number."""
    too_often, too_recent = _asked(policy, now, col(PaymentQuery.recon_item_id) == ReconItem.id)
    query = (
        select(ReconItem.id, ReconItem.run_id, Statement.provider, StatementLine.order_ref)
        .join(StatementLine, col(StatementLine.id) == ReconItem.statement_line_id)
        .join(Statement, col(Statement.id) == StatementLine.statement_id)
        .where(
            col(ReconItem.drift) == Drift.MISSING_IN_SYSTEM.value,
            col(ReconItem.resolution).is_(None),
            col(StatementLine.kind) == VoucherKind.PAYMENT.value,
            col(StatementLine.order_ref).is_not(None),
            col(Statement.provider).in_(sorted(set(policy.providers.values()))),
            ~too_often,
            ~too_recent,
        )
        .order_by(col(ReconItem.id))
        .limit(policy.limit)
    )
    rows = (await session.exec(query)).all()
    return [
        Gap(provider, str(ref), GapReason.MISSING_IN_SYSTEM, recon_item_id=item, recon_run_id=run)
        for item, run, provider, ref in rows
    ]


async def record_query(
    session: AsyncSession, gap: Gap, outcome: QueryOutcome, detail: str, asked_at: datetime,
    *, voucher_id: int | None = None, inbound_message_id: int | None = None,
) -> PaymentQuery:  # fmt: skip
    row = PaymentQuery(
        provider=gap.provider, out_trade_no=gap.out_trade_no, reason=gap.reason.value, order_id=gap.order_id,
        recon_item_id=gap.recon_item_id, recon_run_id=gap.recon_run_id, outcome=outcome.value, detail=detail[:2000],
        voucher_id=voucher_id, inbound_message_id=inbound_message_id, asked_at=asked_at,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def count_for_run(session: AsyncSession, run_id: int, provider: str, since: datetime) -> None:
    """Queries that closed an order's gap just before a run are counted in that run's report."""
    await session.exec(
        update(PaymentQuery)
        .where(
            col(PaymentQuery.recon_run_id).is_(None),
            col(PaymentQuery.provider) == provider,
            col(PaymentQuery.outcome) == QueryOutcome.POSTED.value,
            col(PaymentQuery.asked_at) >= since,
        )
        .values(recon_run_id=run_id)
    )


async def gaps_closed(session: AsyncSession, run_ids: list[int]) -> dict[int, int]:
    """Per reconciliation run, how many of its gaps a payment query closed (posted a voucher for)."""
    if not run_ids:
        return {}
    rows = (
        await session.exec(
            select(PaymentQuery.recon_run_id, func.count())
            .where(
                col(PaymentQuery.recon_run_id).in_(run_ids),
                col(PaymentQuery.outcome) == QueryOutcome.POSTED.value,
            )
            .group_by(col(PaymentQuery.recon_run_id))
        )
    ).all()
    return {int(run): int(n) for run, n in rows if run is not None}
