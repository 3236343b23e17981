"""payment queries, courier subscriptions and parcels: each question to a provider about a payment without a
voucher, each tracking number subscribed at the tracking aggregator, each package an order left in

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 15:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import domain.columns

revision: str = "0018"
down_revision: Union[str, None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "payment_query",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("out_trade_no", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("recon_item_id", _ID, nullable=True),
        sa.Column("recon_run_id", _ID, nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("voucher_id", _ID, nullable=True),
        sa.Column("inbound_message_id", _ID, nullable=True),
        sa.Column("asked_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbound_message_id"], ["inbound_message.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_query", schema=None) as batch_op:
        batch_op.create_index("ix_payment_query_order", ["order_id", "asked_at"], unique=False)
        batch_op.create_index("ix_payment_query_recon_item", ["recon_item_id"], unique=False)
        batch_op.create_index("ix_payment_query_recon_run", ["recon_run_id", "outcome"], unique=False)
    op.create_table(
        "courier_subscription",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("company", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("tracking_number", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company", "tracking_number", name="uq_courier_subscription_number"),
    )
    with op.batch_alter_table("courier_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courier_subscription_order_id"), ["order_id"], unique=False)
    op.create_table(
        "parcel",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("parcel_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("warehouse_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("carrier_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("tracking_number", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("items", _JSON, nullable=False),
        sa.Column("shipped_at", domain.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", domain.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("evidence_id", _ID, nullable=True),
        sa.Column("created_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["fulfilment_evidence.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "parcel_key", name="uq_parcel_key"),
    )
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.create_index("ix_parcel_tracking_number", ["tracking_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_parcel_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parcel_order_id"))
        batch_op.drop_index("ix_parcel_tracking_number")
    op.drop_table("parcel")
    with op.batch_alter_table("courier_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courier_subscription_order_id"))
    op.drop_table("courier_subscription")
    with op.batch_alter_table("payment_query", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_query_recon_run")
        batch_op.drop_index("ix_payment_query_recon_item")
        batch_op.drop_index("ix_payment_query_order")
    op.drop_table("payment_query")
