"""Tables of buyer identity: aliases, their conflicts, channel links, masked-phone suggestions, groups.

None of them holds a phone number: UIDs are keyed hashes, masked patterns are stored as keyed hashes too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, money_column, utc_column


class AliasKind(StrEnum):
    """Platform buyer ids; openids are scoped to one app, unionids and Alibaba ids to the platform."""

    WECHAT_UNIONID = "WECHAT_UNIONID"
    WECHAT_OPENID = "WECHAT_OPENID"
    TAOBAO_OPEN_UID = "TAOBAO_OPEN_UID"
    TAOBAO_OUID = "TAOBAO_OUID"
    DOUYIN_OPEN_ID = "DOUYIN_OPEN_ID"
    AMAZON_BUYER_ID = "AMAZON_BUYER_ID"


class SuggestionStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


def _order_ref(*, nullable: bool = False, index: bool = True) -> Column[int]:
    return Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=nullable, index=index)


class BuyerAlias(SQLModel, table=True):
    """One platform id -> one UID; a second UID claiming it becomes an AliasConflict, never a re-point."""

    __tablename__ = "buyer_alias"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_buyer_alias_kind_value"),)

    id: int | None = Field(default=None, sa_column=id_column())
    kind: str = Field(max_length=30)
    value: str = Field(max_length=200)
    uid: str = Field(max_length=64, index=True)
    key_version: int
    # The order the alias was learnt from; NULL when the buyer signed in with it (domain/signin).
    order_id: int | None = Field(default=None, sa_column=_order_ref(nullable=True))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class AliasConflict(SQLModel, table=True):
    __tablename__ = "alias_conflict"
    __table_args__ = (UniqueConstraint("kind", "value", "claimed_uid", name="uq_alias_conflict_claim"),)

    id: int | None = Field(default=None, sa_column=id_column())
    kind: str = Field(max_length=30)
    value: str = Field(max_length=200)
    held_uid: str = Field(max_length=64)
    claimed_uid: str = Field(max_length=64)
    order_id: int = Field(sa_column=_order_ref())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class BuyerChannel(SQLModel, table=True):
    """A buyer's first order on a channel; the primary channel is chosen among these."""

    __tablename__ = "buyer_channel"
    __table_args__ = (UniqueConstraint("uid", "channel", name="uq_buyer_channel"),)

    id: int | None = Field(default=None, sa_column=id_column())
    uid: str = Field(max_length=64)
    key_version: int
    channel: str = Field(max_length=40)
    first_order_id: int = Field(sa_column=_order_ref(index=False))
    first_order_at: datetime = Field(sa_column=utc_column(nullable=False))
    first_order_amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)


class OrderIdentity(SQLModel, table=True):
    """How each order's buyer was recognised, and the hints a person may use to recognise it later."""

    __tablename__ = "order_identity"
    __table_args__ = (Index("ix_order_identity_mask", "mask_key", "receiver_region", "placed_at"),)

    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), primary_key=True))
    channel: str = Field(max_length=40)
    resolved_by: str | None = Field(default=None, max_length=10)
    mask_key: str | None = Field(default=None, max_length=64)
    receiver_region: str | None = Field(default=None, max_length=40)
    placed_at: datetime = Field(sa_column=utc_column(nullable=False))


class MatchSuggestion(SQLModel, table=True):
    """A masked-phone order that may belong to a known buyer; only a person turns it into a match."""

    __tablename__ = "match_suggestion"
    __table_args__ = (UniqueConstraint("order_id", "candidate_uid", name="uq_match_suggestion"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=_order_ref())
    candidate_uid: str = Field(max_length=64)
    evidence_order_id: int = Field(sa_column=_order_ref(index=False))
    status: str = Field(default=SuggestionStatus.PENDING.value, max_length=10, index=True)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class OrderGroup(SQLModel, table=True):
    """A parent order standing for one intended purchase placed several times."""

    __tablename__ = "order_group"

    id: int | None = Field(default=None, sa_column=id_column())
    parent_order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False, unique=True)
    )
    uid: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    split_at: datetime | None = Field(default=None, sa_column=utc_column())
    split_by: str | None = Field(default=None, max_length=200)
