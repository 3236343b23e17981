"""access bounds: the sales channels a partner key serves

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00

Keys issued before this revision keep `channels` NULL, which means every channel, so that running
integrations keep working until their keys are reissued with --channel.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: Union[str, None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("partner_key") as batch:
        batch.add_column(sa.Column("channels", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partner_key") as batch:
        batch.drop_column("channels")
