"""statement_line: a block-range index on statement_id and a cached id sequence, for million-line loads

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 12:00:00

"""

from typing import Sequence, Union

from alembic import op

revision: str = "0008"
down_revision: Union[str, None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # Lines arrive a whole statement at a time, so they lie together on disk: a BRIN index finds them as
    # well as a B-tree would, and costs next to nothing to maintain while a million are written.
    op.drop_index("ix_statement_line_statement_id", table_name="statement_line")
    op.create_index("ix_statement_line_statement_id", "statement_line", ["statement_id"], postgresql_using="brin")
    # One sequence round per thousand lines instead of per line.
    op.execute("ALTER SEQUENCE statement_line_id_seq CACHE 1000")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("ALTER SEQUENCE statement_line_id_seq CACHE 1")
    op.drop_index("ix_statement_line_statement_id", table_name="statement_line")
    op.create_index("ix_statement_line_statement_id", "statement_line", ["statement_id"])
