"""Stored credentials of partners and staff. Keys and passwords are stored only as hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from domain.columns import id_column, utc_column
from domain.jsoncol import json_column


class PartnerKey(SQLModel, table=True):
    __tablename__ = "partner_key"

    id: int | None = Field(default=None, sa_column=id_column())
    name: str = Field(max_length=100)
    key_hash: str = Field(max_length=64, unique=True)
    last4: str = Field(max_length=4)
    scopes: list[str] = Field(sa_column=json_column())
    # The sales channels the key serves; NULL (keys issued before channels were bound) means every channel.
    channels: list[str] | None = Field(default=None, sa_column=json_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, sa_column=id_column())
    email: str = Field(max_length=200, unique=True)
    password_hash: str = Field(max_length=300)
    roles: list[str] = Field(sa_column=json_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=utc_column())
    language: str | None = Field(default=None, max_length=10)  # None: the request's Accept-Language decides


class AdminLogEntry(SQLModel, table=True):
    """One change of who may do what, appended by the code that made it (API or command line), in the same
    transaction: a change without its entry cannot commit."""

    __tablename__ = "admin_log"

    id: int | None = Field(default=None, sa_column=id_column())
    at: datetime = Field(sa_column=utc_column(nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=40)
    target: str = Field(max_length=200)
    details: dict[str, Any] = Field(sa_column=json_column())
