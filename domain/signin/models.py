"""Tables of customer sign-in. None holds a phone number, a code or a token in plaintext: phones are keyed
hashes (the buyer UID), codes and refresh tokens are hashes, and a WeChat session_key is never kept."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column


class SignInMethod(StrEnum):
    PARTNER = "PARTNER"
    WECHAT = "WECHAT"
    SMS_CODE = "SMS_CODE"


class CustomerSession(SQLModel, table=True):
    """One sign-in: the family of refresh tokens it rotates through. Access tokens carry its `family`, so
    revoking it stops them at once, whatever their expiry."""

    __tablename__ = "customer_session"

    id: int | None = Field(default=None, sa_column=id_column())
    family: str = Field(max_length=32, unique=True)
    buyer_uid: str = Field(max_length=64, index=True)
    key_version: int
    method: str = Field(max_length=10)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoked_reason: str | None = Field(default=None, max_length=30)


class RefreshToken(SQLModel, table=True):
    """A refresh token is good once: using it spends it and issues the next of its family."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, sa_column=id_column())
    session_id: int = Field(
        sa_column=Column(BigId, ForeignKey("customer_session.id", ondelete="RESTRICT"), nullable=False, index=True)
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    spent_at: datetime | None = Field(default=None, sa_column=utc_column())


class SignInCode(SQLModel, table=True):
    """A one-time code sent by SMS, kept as a keyed hash beside the phone's keyed hash."""

    __tablename__ = "signin_code"
    __table_args__ = (Index("ix_signin_code_phone", "phone_key", "created_at"),)

    id: int | None = Field(default=None, sa_column=id_column())
    phone_key: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    attempts: int = 0
    used_at: datetime | None = Field(default=None, sa_column=utc_column())
    void_reason: str | None = Field(default=None, max_length=30)


class SignInAttempt(SQLModel, table=True):
    """Every sign-in request and its outcome, for the people who look into abuse: the subject is a keyed
    hash (of a phone, an openid, a refresh token's family), never the credential itself."""

    __tablename__ = "signin_attempt"

    id: int | None = Field(default=None, sa_column=id_column())
    action: str = Field(max_length=30)
    outcome: str = Field(max_length=30, index=True)
    subject: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
