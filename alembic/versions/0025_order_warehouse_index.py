"""warehouse codes indexed on orders and warehouse evidence: the warehouses orderhub has seen, one probe each

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:30:00

"""

from typing import Sequence, Union

from alembic import op

revision: str = "0025"
down_revision: Union[str, None] = "0024"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = (
    ("ix_orders_warehouse_code", "orders"),
    ("ix_fulfilment_evidence_warehouse_code", "fulfilment_evidence"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table in INDEXES:
            op.create_index(name, table, ["warehouse_code"])
        return
    # Built without locking writes out, outside the migration's transaction: orders keep arriving during a release.
    with op.get_context().autocommit_block():
        for name, table in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # an invalid one a failed build left
            op.create_index(name, table, ["warehouse_code"], postgresql_concurrently=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table in INDEXES:
            op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        for name, table in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
