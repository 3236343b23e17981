"""customer sign-in: sign-ins (refresh token families), refresh tokens, one-time codes, attempts; aliases
learnt at sign-in have no order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.columns

revision: str = "0013"
down_revision: Union[str, None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = domain.columns.UtcDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "customer_session",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("family", _text(32), nullable=False),
        sa.Column("buyer_uid", _text(64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("method", _text(10), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("revoked_reason", _text(30), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("family"),
    )
    with op.batch_alter_table("customer_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_session_buyer_uid"), ["buyer_uid"], unique=False)

    op.create_table(
        "refresh_token",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", _ID, nullable=False),
        sa.Column("token_hash", _text(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("spent_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["customer_session.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("refresh_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_token_session_id"), ["session_id"], unique=False)

    op.create_table(
        "signin_code",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("phone_key", _text(64), nullable=False),
        sa.Column("code_hash", _text(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
        sa.Column("void_reason", _text(30), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signin_code", schema=None) as batch_op:
        batch_op.create_index("ix_signin_code_phone", ["phone_key", "created_at"], unique=False)

    op.create_table(
        "signin_attempt",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("action", _text(30), nullable=False),
        sa.Column("outcome", _text(30), nullable=False),
        sa.Column("subject", _text(64), nullable=True),
        sa.Column("address", _text(64), nullable=True),
        sa.Column("detail", _text(300), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signin_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signin_attempt_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_signin_attempt_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("buyer_alias", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=_ID, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM buyer_alias WHERE order_id IS NULL")
    with op.batch_alter_table("buyer_alias", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=_ID, nullable=False)
    op.drop_table("signin_attempt")
    op.drop_table("signin_code")
    op.drop_table("refresh_token")
    op.drop_table("customer_session")
