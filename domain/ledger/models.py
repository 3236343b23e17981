"""Fund vouchers, the adjustments that make up an order's received amount, and recorded conflicts.

All three tables are append-only; the one field that changes is a voucher's status, and only along
PENDING -> CONFIRMED -> REVERSED.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, money_column, utc_column
from domain.jsoncol import json_column


class VoucherKind(StrEnum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    REVERSAL = "REVERSAL"


class VoucherStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REVERSED = "REVERSED"


class FundVoucher(SQLModel, table=True):
    __tablename__ = "fund_voucher"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id", "kind", name="uq_fund_voucher_key"),
        UniqueConstraint("reverses_id", name="uq_fund_voucher_reverses"),
        Index("ix_fund_voucher_provider_time", "provider", "provider_time"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    provider: str = Field(max_length=40)
    provider_txn_id: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    order_ref: str | None = Field(default=None, max_length=100, index=True)
    order_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=True, index=True)
    )
    # Signed: payments positive, refunds and reversals of payments negative.
    amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    raw: dict[str, Any] = Field(sa_column=json_column())
    inbound_message_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True)
    )
    reverses_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("fund_voucher.id"), nullable=True))
    actor: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    provider_time: datetime | None = Field(default=None, sa_column=utc_column())
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    repeats: int = 0


class OrderAdjustment(SQLModel, table=True):
    """One per confirmed voucher that names an order; an order's received amount is their sum."""

    __tablename__ = "order_adjustment"
    __table_args__ = (UniqueConstraint("voucher_id", name="uq_order_adjustment_voucher"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False, index=True)
    )
    voucher_id: int = Field(sa_column=Column(BigId, ForeignKey("fund_voucher.id"), nullable=False))
    amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)
    actor: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class FundVoucherConflict(SQLModel, table=True):
    """A notification whose key exists with a different amount, currency or status: kept, never applied."""

    __tablename__ = "fund_voucher_conflict"
    __table_args__ = (UniqueConstraint("voucher_id", "fingerprint", name="uq_fund_voucher_conflict"),)

    id: int | None = Field(default=None, sa_column=id_column())
    voucher_id: int = Field(sa_column=Column(BigId, ForeignKey("fund_voucher.id"), nullable=False, index=True))
    fingerprint: str = Field(max_length=64)
    amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    differences: str = Field(sa_column=Column(Text(), nullable=False))
    raw: dict[str, Any] = Field(sa_column=json_column())
    inbound_message_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True)
    )
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    repeats: int = 0


class PaymentQuery(SQLModel, table=True):
    """One question to a provider about a payment orderhub expected and has no voucher for, and its outcome.

    Append-only: a gap asked about again is a new row, so the rows of a gap are its attempts."""

    __tablename__ = "payment_query"
    __table_args__ = (
        Index("ix_payment_query_order", "order_id", "asked_at"),
        Index("ix_payment_query_recon_item", "recon_item_id"),
        Index("ix_payment_query_recon_run", "recon_run_id", "outcome"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    provider: str = Field(max_length=40)
    out_trade_no: str = Field(max_length=100)
    reason: str = Field(max_length=30)  # GapReason
    order_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("orders.id"), nullable=True))
    recon_item_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    # The reconciliation whose report counts this query: the run of the item asked about, or the next run of the
    # provider for an order asked about before it.
    recon_run_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    outcome: str = Field(max_length=20)  # QueryOutcome
    detail: str = Field(sa_column=Column(Text(), nullable=False))
    voucher_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    inbound_message_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True)
    )
    asked_at: datetime = Field(sa_column=utc_column(nullable=False))
