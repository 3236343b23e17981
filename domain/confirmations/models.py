"""One row per (order, tracking number) that a channel must be told about, and where telling it stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column
from domain.jsoncol import json_column


class ConfirmationState(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REFUSED = "REFUSED"  # the channel said no for good; an exception carries its code and message
    GAVE_UP = "GAVE_UP"  # transient failures until the attempts ran out; an exception says so
    WAITING_FOR_CREDENTIALS = "WAITING_FOR_CREDENTIALS"  # the shop's credentials were refused; new ones resume it
    NO_SHOP = "NO_SHOP"  # the channel has several shops and the order names none of them


OPEN_STATES = frozenset({ConfirmationState.PENDING, ConfirmationState.WAITING_FOR_CREDENTIALS})


class ShipmentConfirmation(SQLModel, table=True):
    """Unique on (order, tracking number): however often the outbound is judged or a job runs, a parcel is
    confirmed to its channel once."""

    __tablename__ = "shipment_confirmation"
    __table_args__ = (
        UniqueConstraint("order_id", "tracking_number", name="uq_shipment_confirmation_parcel"),
        Index("ix_shipment_confirmation_shop_state", "shop_id", "state"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id"), nullable=False))
    tracking_number: str = Field(max_length=60)
    carrier_code: str | None = Field(default=None, max_length=40)
    channel: str = Field(max_length=40)
    shop_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("shop.id"), nullable=True))
    state: str = Field(max_length=30)
    attempts: int = 0
    last_code: str | None = Field(default=None, max_length=200)
    last_message: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column())


CONFIRM_SHIPMENT_JOB = "confirm_shipment"
"""The outbox job that makes one attempt; each retry is a new, deferred row, so a job id is never reused."""
