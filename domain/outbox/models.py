"""Side effects written in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from domain.columns import id_column, utc_column
from domain.jsoncol import json_column


class OutboxKind(StrEnum):
    PUBLISH = "PUBLISH"
    JOB = "JOB"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, sa_column=id_column())
    kind: str = Field(max_length=10)
    target: str = Field(max_length=100)
    payload: dict[str, Any] = Field(sa_column=json_column())
    # A job row's request id and trace context (`domain.outbox.carry`); None for pushes and for work
    # no request caused.
    carry: dict[str, str] | None = Field(default=None, sa_column=json_column(nullable=True))
    defer_seconds: int = 0
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
