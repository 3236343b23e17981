"""order supersession: an order made under a wrong channel order number points at the right one

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.columns

revision: str = "0011"
down_revision: Union[str, None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_supersession",
        sa.Column("old_order_id", _ID, autoincrement=False, nullable=False),
        sa.Column("new_order_id", _ID, nullable=False),
        sa.Column("inbound_message_id", _ID, nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", domain.columns.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbound_message_id"], ["inbound_message.id"]),
        sa.ForeignKeyConstraint(["new_order_id"], ["orders.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["old_order_id"], ["orders.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("old_order_id"),
    )
    with op.batch_alter_table("order_supersession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_supersession_new_order_id"), ["new_order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_supersession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_supersession_new_order_id"))
    op.drop_table("order_supersession")
