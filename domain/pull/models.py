"""Where each shop's channel pull stands: the checkpoint every change before which is in, and the page of the
window being walked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Text
from sqlmodel import Field, SQLModel

from domain.columns import BigId, utc_column
from domain.jsoncol import json_column


class ShopPull(SQLModel, table=True):
    """One row per shop whose orders orderhub pulls.

    `checkpoint` moves to a window's end only in the unit of work of the window's last page; `cursor` moves to
    the next page in each page's unit of work. A crash or a rate limit resumes from there, and a window starts
    `overlap` before the checkpoint, so a change the channel indexed late is still met."""

    __tablename__ = "shop_pull"

    shop_id: int = Field(sa_column=Column(BigId, ForeignKey("shop.id"), primary_key=True, autoincrement=False))
    enabled: bool = Field(default=True)
    checkpoint: datetime | None = Field(default=None, sa_column=utc_column())
    window_start: datetime | None = Field(default=None, sa_column=utc_column())
    window_end: datetime | None = Field(default=None, sa_column=utc_column())
    cursor: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    last_page_hash: str | None = Field(default=None, max_length=64)
    pages: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    orders: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    last_run_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_outcome: str | None = Field(default=None, max_length=40)
    last_note: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    # The sentences orderhub wrote into its text columns, as key + params, for each reader's language (i18n/stored.py).
    sentences: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
