"""next-step prediction: the stored prediction on orders, and the registry of model runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import domain.columns

revision: str = "0009"
down_revision: Union[str, None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "next_step_model",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("trained_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.Column("window_start", domain.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("window_end", domain.columns.UtcDateTime(timezone=True), nullable=True),
        sa.Column("features", _JSON, nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    with op.batch_alter_table("next_step_model", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_next_step_model_current"), ["current"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("predicted_next_at", domain.columns.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("predicted_next_stage", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column("predicted_low_at", domain.columns.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("predicted_high_at", domain.columns.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("prediction_model_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prediction_basis", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name in (
            "prediction_basis",
            "prediction_model_version",
            "predicted_high_at",
            "predicted_low_at",
            "predicted_next_stage",
            "predicted_next_at",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("next_step_model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_next_step_model_current"))
    op.drop_table("next_step_model")
