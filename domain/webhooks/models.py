"""Partner webhook endpoints, the events they are sent, one delivery per endpoint and event, and its attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column
from domain.jsoncol import json_column


class EndpointState(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class DeliveryState(StrEnum):
    PENDING = "PENDING"  # an attempt is due at next_attempt_at
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # retried for the whole retry period, or its endpoint was disabled


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, sa_column=id_column())
    partner_key_id: int = Field(sa_column=Column(BigId, ForeignKey("partner_key.id"), nullable=False, index=True))
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    event_types: list[str] = Field(sa_column=json_column())
    # Signing secrets are sealed with the vault: they must be read back to sign, so they cannot be hashed.
    secret_sealed: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    previous_secret_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary(), nullable=True))
    previous_secret_until: datetime | None = Field(default=None, sa_column=utc_column())
    state: str = Field(default=EndpointState.ACTIVE.value, max_length=10)
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    disabled_at: datetime | None = Field(default=None, sa_column=utc_column())
    failing_since: datetime | None = Field(default=None, sa_column=utc_column())
    consecutive_failures: int = 0
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_by: str = Field(max_length=200)


class WebhookEvent(SQLModel, table=True):
    """What happened, once, with the exact body every endpoint and every retry is sent."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, sa_column=id_column())
    key: str = Field(max_length=200, unique=True)  # the source event's identity: the same event is stored once
    message_id: str = Field(max_length=64)  # the webhook-id header, stable across endpoints and retries
    type: str = Field(max_length=50)
    order_id: int | None = None
    body: str = Field(sa_column=Column(Text(), nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_endpoint_event"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    endpoint_id: int = Field(sa_column=Column(BigId, ForeignKey("webhook_endpoint.id"), nullable=False))
    event_id: int = Field(sa_column=Column(BigId, ForeignKey("webhook_event.id"), nullable=False))
    state: str = Field(default=DeliveryState.PENDING.value, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    first_attempt_at: datetime | None = Field(default=None, sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column())


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt, whatever became of it."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, sa_column=id_column())
    delivery_id: int = Field(sa_column=Column(BigId, ForeignKey("webhook_delivery.id"), nullable=False, index=True))
    attempt: int
    trigger: str = Field(max_length=220)  # "initial", "retry" or "manual:<who>"
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    duration_ms: int
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    succeeded: bool
