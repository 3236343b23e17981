"""drift watch on every upstream (upstream kind on baselines and alerts, held statements); invoice requests

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.columns

revision: str = "0016"
down_revision: Union[str, None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _upstream() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("upstream", sqlmodel.sql.sqltypes.AutoString(length=20), server_default="CHANNEL", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("drift_alert", schema=None) as batch_op:
        batch_op.add_column(_upstream())
        batch_op.create_index("ix_drift_alert_upstream", ["upstream", "id"], unique=False)
    with op.batch_alter_table("schema_baseline", schema=None) as batch_op:
        batch_op.add_column(_upstream())
    op.create_table(
        "held_statement",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("held_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("released_at", domain.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("statement_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(["statement_id"], ["statement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_hash", name="uq_held_statement_content_hash"),
    )
    op.create_table(
        "invoice_request",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("source_order_id", _ID, nullable=True),
        sa.Column("updated_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )


def downgrade() -> None:
    op.drop_table("invoice_request")
    op.drop_table("held_statement")
    with op.batch_alter_table("schema_baseline", schema=None) as batch_op:
        batch_op.drop_column("upstream")
    with op.batch_alter_table("drift_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_alert_upstream")
        batch_op.drop_column("upstream")
