"""channel pull: each shop's checkpoint, window and page cursor

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 16:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import domain.columns

revision: str = "0020"
down_revision: Union[str, None] = "0019"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shop_pull",
        sa.Column("shop_id", _ID, sa.ForeignKey("shop.id"), primary_key=True, autoincrement=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("checkpoint", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("window_start", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("window_end", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_page_hash", sa.String(length=64), nullable=True),
        sa.Column("pages", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("last_run_at", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=40), nullable=True),
        sa.Column("last_note", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("shop_pull")
