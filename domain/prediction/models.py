"""The registry of next-step models: one row per training run, whether or not it was promoted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from domain.columns import id_column, utc_column
from domain.jsoncol import json_column


class NextStepModelRun(SQLModel, table=True):
    """`version` is null when nothing was trained (too little history); the artifact file of a version
    lives in the models directory. At most one row is the promoted model serving predictions."""

    __tablename__ = "next_step_model"

    id: int | None = Field(default=None, sa_column=id_column())
    version: int | None = Field(default=None, unique=True)
    trained_at: datetime = Field(sa_column=utc_column(nullable=False))
    window_start: datetime | None = Field(default=None, sa_column=utc_column())
    window_end: datetime | None = Field(default=None, sa_column=utc_column())
    features: list[str] = Field(sa_column=json_column())
    metrics: dict[str, Any] = Field(sa_column=json_column())
    promoted: bool = False
    current: bool = Field(default=False, index=True)
    reason: str = Field(sa_column=Column(Text(), nullable=False))
