"""Each order's invoice request, sealed, and the role it plays once orders are grouped."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, Text
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column


class InvoiceRole(StrEnum):
    OWN = "OWN"  # invoiced as its own order
    GROUP = "GROUP"  # a group's parent: the one invoice, with the group's total
    GROUP_SOURCE = "GROUP_SOURCE"  # the primary channel's order the group's invoice was derived from
    LOGISTICS_ONLY = "LOGISTICS_ONLY"  # grouped: contributes delivery only, never invoiced
    UNDECIDED = "UNDECIDED"  # a group whose orders asked for different invoices: a person decides


class InvoiceRequestRow(SQLModel, table=True):
    """`sealed` holds the request as the channel sent it (title, tax id, type, email, address) under the vault;
    `fingerprint` (keyed) tells two requests apart without opening them."""

    __tablename__ = "invoice_request"

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id"), nullable=False, unique=True))
    role: str = Field(max_length=20)
    kind: str = Field(max_length=40)
    sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary(), nullable=True))
    fingerprint: str | None = Field(default=None, max_length=64)
    problem: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    amount: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    source_order_id: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
