"""Buyers' devices, their push preference, and every push owed to them (held, sent, skipped or failed)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"


class NoticeState(StrEnum):
    HELD = "HELD"  # due after the merchant's quiet hours
    DUE = "DUE"  # to be sent now
    SENT = "SENT"
    SKIPPED = "SKIPPED"  # the buyer opted out, or has no device
    FAILED = "FAILED"  # the provider refused it for good


class PushDevice(SQLModel, table=True):
    """A registration id belongs to one buyer at a time: the latest to register it on that app."""

    __tablename__ = "push_device"

    id: int | None = Field(default=None, sa_column=id_column())
    buyer_uid: str = Field(max_length=64, index=True)
    platform: str = Field(max_length=10)
    registration_id: str = Field(max_length=64, unique=True)
    registered_at: datetime = Field(sa_column=utc_column(nullable=False))


class PushPreference(SQLModel, table=True):
    __tablename__ = "push_preference"

    buyer_uid: str = Field(max_length=64, primary_key=True)
    opted_out: bool = False
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class PushNotice(SQLModel, table=True):
    """One push per order version: a job that runs twice finds the notice and does not push again."""

    __tablename__ = "push_notice"
    __table_args__ = (UniqueConstraint("order_id", "version", name="uq_push_notice_order_version"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False))
    version: int
    buyer_uid: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=20)
    title: str = Field(max_length=100)
    text: str = Field(sa_column=Column(Text(), nullable=False))
    state: str = Field(max_length=10, index=True)
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    provider_msg_id: str | None = Field(default=None, max_length=40)
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
