"""The traffic mirror: every inbound message, kept before anything else looks at it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column
from domain.jsoncol import json_column


class Outcome(StrEnum):
    PENDING = "PENDING"
    APPLIED = "APPLIED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class SignatureVerdict(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    MISSING = "MISSING"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class InboundMessage(SQLModel, table=True):
    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("source", "kind", "natural_key", name="uq_inbound_natural_key"),
        # a partner key's last use, shown to administrators, is its latest recorded request
        Index("ix_inbound_message_partner_key_received", "partner_key_id", "received_at"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    source: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=100)
    natural_key: str | None = Field(default=None, max_length=200)
    headers: dict[str, Any] = Field(sa_column=json_column())
    # Sealed with the vault key: bodies carry buyers' phone numbers, which never reach the
    # database in plaintext.
    body: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    body_size: int
    content_hash: str = Field(max_length=64, index=True)
    received_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    signature: str = Field(max_length=20)
    partner_key_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("partner_key.id"), nullable=True)
    )
    outcome: str = Field(default=Outcome.PENDING, max_length=20, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    processed_at: datetime | None = Field(default=None, sa_column=utc_column())
    repeats: int = 0
