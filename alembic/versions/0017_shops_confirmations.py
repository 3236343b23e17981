"""shops with sealed credentials, orders naming their shop, and shipment confirmations to the channels

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import domain.columns

revision: str = "0017"
down_revision: Union[str, None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shop",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("credentials_fingerprint", sa.String(length=16), nullable=True),
        sa.Column("credentials_set_at", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("credentials_set_by", sa.String(length=200), nullable=True),
        sa.Column("credentials_refused_at", domain.columns.UtcDateTime(), nullable=True),
        sa.Column("credentials_refusal", sa.Text(), nullable=True),
        sa.Column("created_at", domain.columns.UtcDateTime(), nullable=False),
        sa.UniqueConstraint("channel", "code", name="uq_shop_channel_code"),
    )
    op.create_table(
        "shipment_confirmation",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("order_id", _ID, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("tracking_number", sa.String(length=60), nullable=False),
        sa.Column("carrier_code", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("shop_id", _ID, sa.ForeignKey("shop.id"), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_code", sa.String(length=200), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("created_at", domain.columns.UtcDateTime(), nullable=False),
        sa.Column("updated_at", domain.columns.UtcDateTime(), nullable=False),
        sa.Column("confirmed_at", domain.columns.UtcDateTime(), nullable=True),
        sa.UniqueConstraint("order_id", "tracking_number", name="uq_shipment_confirmation_parcel"),
    )
    op.create_index("ix_shipment_confirmation_shop_state", "shipment_confirmation", ["shop_id", "state"])
    # Nullable and without a default: adding it rewrites no existing order on either database.
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shop_code", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("shop_code")
    op.drop_index("ix_shipment_confirmation_shop_state", table_name="shipment_confirmation")
    op.drop_table("shipment_confirmation")
    op.drop_table("shop")
