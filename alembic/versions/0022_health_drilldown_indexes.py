"""health drill-down indexes: the day's drifting, mis-attributed and id-disagreeing orders found without reading
the rest of the day

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 21:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: Union[str, None] = "0021"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ATTRIBUTED = (
    "(utm_source IS NOT NULL AND ((channel = 'DOUYIN' AND utm_source IN ('douyin')) OR (channel = 'TAOBAO' AND "
    "utm_source IN ('taobao')) OR (channel = 'TMALL' AND utm_source IN ('tmall')) OR (channel = 'WECHAT_MINI' AND "
    "utm_source IN ('wechat', 'wechat_mini')) OR (channel = 'WECHAT_CHANNELS' AND utm_source IN ('channels', "
    "'wechat_channels')) OR (channel = 'AMAZON' AND utm_source IN ('amazon'))))"
)
INDEXES = {
    "ix_orders_drifting": "status_changes > min_status_changes",
    "ix_orders_misattributed": f"NOT {ATTRIBUTED}",
    "ix_orders_ids_differ": "customer_ids_differ = 1",
}


def upgrade() -> None:
    for name, predicate in INDEXES.items():
        where = sa.text(predicate)
        op.create_index(name, "orders", ["placed_at"], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="orders")
