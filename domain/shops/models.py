"""A merchant's shops on each channel, and the credentials orderhub calls the channel with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import id_column, utc_column


class Shop(SQLModel, table=True):
    """One shop of one channel, named by the channel's own id for it (`code`), as its order payloads carry it.

    The credentials are one sealed blob: only the vault key opens it, and the API shows when it was set and its
    fingerprint, never what it holds."""

    __tablename__ = "shop"
    __table_args__ = (UniqueConstraint("channel", "code", name="uq_shop_channel_code"),)

    id: int | None = Field(default=None, sa_column=id_column())
    channel: str = Field(max_length=40)
    code: str = Field(max_length=100)
    name: str = Field(max_length=200)
    credentials: bytes | None = Field(default=None, sa_column=Column(LargeBinary(), nullable=True))
    credentials_fingerprint: str | None = Field(default=None, max_length=16)
    credentials_set_at: datetime | None = Field(default=None, sa_column=utc_column())
    credentials_set_by: str | None = Field(default=None, max_length=200)
    # Set when the channel refused the credentials; cleared only by new ones. Calls wait until then.
    credentials_refused_at: datetime | None = Field(default=None, sa_column=utc_column())
    credentials_refusal: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
