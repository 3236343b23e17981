"""Imported statements, their normalized lines, reconciliation runs and their to-check items."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, money_column, utc_column
from domain.jsoncol import json_column


class Drift(StrEnum):
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    MISSING_IN_STATEMENT = "MISSING_IN_STATEMENT"
    MISSING_IN_SYSTEM = "MISSING_IN_SYSTEM"
    DUPLICATE_IN_STATEMENT = "DUPLICATE_IN_STATEMENT"
    DUPLICATE_NOTIFICATION = "DUPLICATE_NOTIFICATION"
    DELAYED_CALLBACK = "DELAYED_CALLBACK"
    STATUS_MISMATCH = "STATUS_MISMATCH"


class Resolution(StrEnum):
    REVERSED = "REVERSED"
    EXPLAINED = "EXPLAINED"


class Statement(SQLModel, table=True):
    __tablename__ = "statement"
    __table_args__ = (UniqueConstraint("content_hash", name="uq_statement_content_hash"),)

    id: int | None = Field(default=None, sa_column=id_column())
    provider: str = Field(max_length=40)
    format: str = Field(max_length=40)
    filename: str = Field(max_length=300)
    content_hash: str = Field(max_length=64)
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    period_end: datetime = Field(sa_column=utc_column(nullable=False))
    line_count: int
    uploaded_by: str = Field(max_length=200)
    received_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    run_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("recon_run.id"), nullable=True))


class HeldStatement(SQLModel, table=True):
    """A statement file whose layout differs from its format's pinned one, kept unread until staff accept
    the new layout (or fix the file): reconciling it as it is would report wrong differences."""

    __tablename__ = "held_statement"
    __table_args__ = (UniqueConstraint("content_hash", name="uq_held_statement_content_hash"),)

    id: int | None = Field(default=None, sa_column=id_column())
    source: str = Field(max_length=40)
    provider: str = Field(max_length=40)
    filename: str = Field(max_length=300)
    content_hash: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    held_by: str = Field(max_length=200)
    held_at: datetime = Field(sa_column=utc_column(nullable=False))
    released_by: str | None = Field(default=None, max_length=200)
    released_at: datetime | None = Field(default=None, sa_column=utc_column())
    statement_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("statement.id"), nullable=True))


class StatementLine(SQLModel, table=True):
    """Bulk-loaded by the thousand: no foreign key (its per-row check would cost more than the load) and no
    index on the transaction id (reconciliation hashes the lines, it never looks one up). Lines are written
    only together with their statement, in one transaction, so a statement's lines lie together on disk and a
    block-range index on `statement_id` finds them (on PostgreSQL; SQLite keeps a B-tree)."""

    __tablename__ = "statement_line"
    __table_args__ = (Index("ix_statement_line_statement_id", "statement_id", postgresql_using="brin"),)

    id: int | None = Field(default=None, sa_column=id_column())
    statement_id: int = Field(sa_column=Column(BigId, nullable=False))
    line_no: int
    provider_txn_id: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    order_ref: str | None = Field(default=None, max_length=100)
    amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)
    occurred_at: datetime = Field(sa_column=utc_column(nullable=False))
    # The order of the voucher with the line's transaction id and kind, written when the line is reconciled, so
    # that health per channel and warehouse reads the order without joining every line to the vouchers. No foreign
    # key, for the reason above; an order is never deleted (`ondelete="RESTRICT"` wherever it is referenced).
    order_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))


class ReconRun(SQLModel, table=True):
    __tablename__ = "recon_run"

    id: int | None = Field(default=None, sa_column=id_column())
    provider: str = Field(max_length=40)
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    period_end: datetime = Field(sa_column=utc_column(nullable=False))
    statement_lines: int
    vouchers: int
    matched: int
    counts: dict[str, Any] = Field(sa_column=json_column())
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    trigger: str = Field(max_length=40)


class ReconItem(SQLModel, table=True):
    __tablename__ = "recon_item"

    id: int | None = Field(default=None, sa_column=id_column())
    run_id: int = Field(sa_column=Column(BigId, ForeignKey("recon_run.id"), nullable=False, index=True))
    drift: str = Field(max_length=30)
    provider_txn_id: str = Field(max_length=100)
    voucher_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    statement_line_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True, index=True))
    system_amount: int | None = Field(default=None, sa_column=money_column(nullable=True))
    statement_amount: int | None = Field(default=None, sa_column=money_column(nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    resolution: str | None = Field(default=None, max_length=20)
    resolved_by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
