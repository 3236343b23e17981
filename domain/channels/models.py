"""Tables of channel intake: cleaning rule versions, what each payload became, learned schemas and drift alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column
from domain.jsoncol import json_column


class CleaningRuleSet(SQLModel, table=True):
    """Every save is a new version; the highest version of a (channel, kind) is in force."""

    __tablename__ = "cleaning_rule_set"
    __table_args__ = (UniqueConstraint("channel", "kind", "version", name="uq_cleaning_rule_version"),)

    id: int | None = Field(default=None, sa_column=id_column())
    channel: str = Field(max_length=40)
    kind: str = Field(max_length=100)
    version: int
    rules: list[dict[str, Any]] = Field(sa_column=json_column())
    note: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ChannelIntake(SQLModel, table=True):
    """What one channel payload became, and which rule version cleaned it: the replay compares against this."""

    __tablename__ = "channel_intake"
    __table_args__ = (Index("ix_channel_intake_order", "channel", "channel_order_id"),)

    id: int | None = Field(default=None, sa_column=id_column())
    inbound_message_id: int = Field(
        sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=False, index=True)
    )
    channel: str = Field(max_length=40)
    kind: str = Field(max_length=100)
    channel_order_id: str = Field(max_length=100)
    order_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("orders.id"), nullable=True))
    rule_version: int = 0
    canonical: dict[str, Any] = Field(sa_column=json_column())
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))


class SchemaBaseline(SQLModel, table=True):
    __tablename__ = "schema_baseline"
    __table_args__ = (UniqueConstraint("channel", "kind", name="uq_schema_baseline"),)

    id: int | None = Field(default=None, sa_column=id_column())
    channel: str = Field(max_length=40)
    kind: str = Field(max_length=100)
    upstream: str = Field(default="CHANNEL", max_length=20, sa_column_kwargs={"server_default": "CHANNEL"})
    shape: dict[str, Any] = Field(sa_column=json_column())
    samples: int = 0
    pinned_by: str | None = Field(default=None, max_length=200)
    pinned_at: datetime | None = Field(default=None, sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class DriftAlert(SQLModel, table=True):
    __tablename__ = "drift_alert"
    __table_args__ = (
        UniqueConstraint("channel", "kind", "path", "change", "detail", name="uq_drift_alert"),
        Index("ix_drift_alert_channel_first_seen", "channel", "first_seen"),
        Index("ix_drift_alert_upstream", "upstream", "id"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    channel: str = Field(max_length=40)
    kind: str = Field(max_length=100)
    upstream: str = Field(default="CHANNEL", max_length=20, sa_column_kwargs={"server_default": "CHANNEL"})
    """CHANNEL, PAYMENT, WAREHOUSE, CARRIER or STATEMENT; `channel` is then the source (provider, format)."""
    path: str = Field(max_length=300)
    change: str = Field(max_length=20)
    detail: str = Field(max_length=200)
    example: str = Field(sa_column=Column(Text(), nullable=False))
    first_seen: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen: datetime = Field(sa_column=utc_column(nullable=False))
    count: int = 1
    notified_count: int = 0
