"""evidence decision sentences: a resent event's decision read in each reader's language, as the first was

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 22:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0026"
down_revision: Union[str, None] = "0025"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("fulfilment_evidence") as batch:
        batch.add_column(sa.Column("sentences", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fulfilment_evidence") as batch:
        batch.drop_column("sentences")
