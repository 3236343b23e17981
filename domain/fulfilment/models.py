"""Tables of fulfilment: the evidence partners sent, the versioned shipped rule, and the exceptions people review."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column
from domain.jsoncol import json_column


class ExceptionKind(StrEnum):
    STUCK_AFTER_SHIP_REQUEST = "STUCK_AFTER_SHIP_REQUEST"
    SHIPPED_WITHOUT_TRACKING = "SHIPPED_WITHOUT_TRACKING"
    SUSPICIOUS_OUTBOUND = "SUSPICIOUS_OUTBOUND"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    DUPLICATE_SCAN = "DUPLICATE_SCAN"
    SCAN_BEFORE_REQUEST = "SCAN_BEFORE_REQUEST"
    OUT_OF_ORDER_EVENT = "OUT_OF_ORDER_EVENT"
    EVENT_FOR_CANCELLED_ORDER = "EVENT_FOR_CANCELLED_ORDER"
    CLOCK_SKEW = "CLOCK_SKEW"
    WAREHOUSE_EXCEPTION = "WAREHOUSE_EXCEPTION"
    VOUCHER_CONFLICT = "VOUCHER_CONFLICT"
    PAYMENT_AMOUNT_MISMATCH = "PAYMENT_AMOUNT_MISMATCH"
    PAYMENT_CURRENCY_MISMATCH = "PAYMENT_CURRENCY_MISMATCH"
    PAYMENT_ON_CLOSED_ORDER = "PAYMENT_ON_CLOSED_ORDER"
    UNMATCHED_PAYMENT = "UNMATCHED_PAYMENT"
    INVOICE_CONFLICT = "INVOICE_CONFLICT"
    SHIPMENT_CONFIRMATION_REFUSED = "SHIPMENT_CONFIRMATION_REFUSED"  # the channel said no, with its own code
    SHIPMENT_NOT_CONFIRMED = "SHIPMENT_NOT_CONFIRMED"  # retries ran out, or no shop to confirm through
    NO_COURIER_RECORD = "NO_COURIER_RECORD"


MONEY_KINDS = frozenset(
    {
        ExceptionKind.VOUCHER_CONFLICT,
        ExceptionKind.PAYMENT_AMOUNT_MISMATCH,
        ExceptionKind.PAYMENT_CURRENCY_MISMATCH,
        ExceptionKind.PAYMENT_ON_CLOSED_ORDER,
        ExceptionKind.UNMATCHED_PAYMENT,
    }
)
"""Exceptions about money: finance's to close, with a reversal (the refund) or a re-attach."""


class ExceptionState(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class EvidenceOutcome(StrEnum):
    APPLIED = "APPLIED"
    NOTED = "NOTED"
    HELD = "HELD"


class FulfilmentEvidence(SQLModel, table=True):
    """One warehouse or carrier event, normalized; unique on (source, event key) so a resend is a no-op."""

    __tablename__ = "fulfilment_evidence"
    __table_args__ = (
        UniqueConstraint("source", "event_key", name="uq_fulfilment_evidence_key"),
        # warehouses seen only in evidence (scans of unknown orders), read one code at a time
        Index("ix_fulfilment_evidence_warehouse_code", "warehouse_code"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    source: str = Field(max_length=20)
    event_key: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    order_reference: str = Field(max_length=100)
    order_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("orders.id"), nullable=True, index=True)
    )
    occurred_at: datetime | None = Field(default=None, sa_column=utc_column())
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    warehouse_code: str | None = Field(default=None, max_length=40)
    zone: str | None = Field(default=None, max_length=60)
    station: str | None = Field(default=None, max_length=60)
    operator: str | None = Field(default=None, max_length=100)
    carrier_code: str | None = Field(default=None, max_length=40)
    tracking_number: str | None = Field(default=None, max_length=60)
    outcome: str = Field(max_length=20)
    decision: str = Field(sa_column=Column(Text(), nullable=False))
    inbound_message_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True)
    )
    details: dict[str, Any] = Field(sa_column=json_column())
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))


class ShippedRuleVersion(SQLModel, table=True):
    """Append-only: each admin change is a new version naming who changed it, when, and the values before."""

    __tablename__ = "shipped_rule_version"

    id: int | None = Field(default=None, sa_column=id_column())
    version: int = Field(unique=True)
    min_minutes_after_request: int
    require_outbound_time: bool
    clock_skew_minutes: int
    changed_by: str = Field(max_length=200)
    changed_at: datetime = Field(sa_column=utc_column(nullable=False))
    previous: dict[str, Any] = Field(sa_column=json_column())
    reason: str = Field(sa_column=Column(Text(), nullable=False))


class OrderException(SQLModel, table=True):
    """Evidence that broke a rule, or an order that stopped moving: kept open until a person resolves it."""

    __tablename__ = "order_exception"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_order_exception_dedup"),
        Index("ix_order_exception_state_id", "state", "id"),
        Index("ix_order_exception_opened_at", "opened_at"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    kind: str = Field(max_length=40, index=True)
    state: str = Field(max_length=20)
    order_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("orders.id"), nullable=True, index=True)
    )
    evidence_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("fulfilment_evidence.id"), nullable=True)
    )
    dedup_key: str | None = Field(default=None, max_length=200)
    summary: str = Field(sa_column=Column(Text(), nullable=False))
    opened_at: datetime = Field(sa_column=utc_column(nullable=False))
    assigned_to: str | None = Field(default=None, max_length=200)
    assigned_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolver: str | None = Field(default=None, max_length=200)
    resolution: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    details: dict[str, Any] = Field(sa_column=json_column())


class CourierSubscription(SQLModel, table=True):
    """One tracking number subscribed at the tracking aggregator (Kuaidi100), so that its pushes reach us."""

    __tablename__ = "courier_subscription"
    __table_args__ = (UniqueConstraint("company", "tracking_number", name="uq_courier_subscription_number"),)

    id: int | None = Field(default=None, sa_column=id_column())
    company: str = Field(max_length=40)
    tracking_number: str = Field(max_length=60)
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id"), nullable=False, index=True))
    accepted: bool
    detail: str = Field(sa_column=Column(Text(), nullable=False))
    attempts: int
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class Parcel(SQLModel, table=True):
    """One package that left a warehouse for an order: its warehouse, carrier, tracking number and lines, and the
    evidence that reported it. An order ships in one parcel or several, from one warehouse or several."""

    __tablename__ = "parcel"
    __table_args__ = (
        UniqueConstraint("order_id", "parcel_key", name="uq_parcel_key"),
        Index("ix_parcel_tracking_number", "tracking_number"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id"), nullable=False, index=True))
    parcel_key: str = Field(max_length=200)  # the tracking number, or the warehouse's own key when there is none
    warehouse_code: str | None = Field(default=None, max_length=40)
    carrier_code: str | None = Field(default=None, max_length=40)
    tracking_number: str | None = Field(default=None, max_length=60)
    items: list[dict[str, Any]] = Field(sa_column=json_column())  # [{"sku": ..., "quantity": ...}]
    shipped_at: datetime | None = Field(default=None, sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column())
    evidence_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("fulfilment_evidence.id"), nullable=True)
    )
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
