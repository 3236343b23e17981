"""statement lines keep the order their voucher belongs to, written when they are reconciled

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:10:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: Union[str, None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nullable and without a default: adding it rewrites no existing line on either database.
    with op.batch_alter_table("statement_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", _ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statement_line", schema=None) as batch_op:
        batch_op.drop_column("order_id")
