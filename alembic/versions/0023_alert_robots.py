"""alert robots set from the console: one row per robot kind, its address and secret sealed by the vault

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 21:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import domain.columns

revision: str = "0023"
down_revision: Union[str, None] = "0022"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "alert_robot",
        sa.Column("kind", sa.String(length=20), primary_key=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", domain.columns.UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_robot")
