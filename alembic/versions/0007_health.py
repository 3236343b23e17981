"""health: order attribution, partner customer ids, snapshots, threshold changes, alerts, and the indexes
the five metrics read at a million orders a day

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.columns
from domain.orders.status import MOVES, STAGE_BITS, EventType, OrderStatus, minimum_changes

revision: str = "0007"
down_revision: Union[str, None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", BigId, autoincrement=True, nullable=False)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, domain.columns.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(_text("utm_source", 100, True))
        batch_op.add_column(_text("utm_medium", 100, True))
        batch_op.add_column(_text("utm_campaign", 200, True))
        batch_op.add_column(_text("landing_url", 500, True))
        batch_op.create_index("ix_orders_placed_at", ["placed_at"], unique=False)
        for name in ("status_changes", "min_status_changes", "stages_entered", "customer_refs", "customer_ids_differ"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    _backfill_drift()
    with op.batch_alter_table("order_exception", schema=None) as batch_op:
        batch_op.create_index("ix_order_exception_opened_at", ["opened_at"], unique=False)
    with op.batch_alter_table("recon_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recon_item_statement_line_id"), ["statement_line_id"], unique=False)
    op.create_table(
        "order_customer_ref",
        _id(),
        sa.Column("order_id", BigId, nullable=False),
        _text("system", 10),
        _text("customer_id", 100),
        _text("customer_grade", 40, True),
        _text("reported_by", 200),
        _time("reported_at"),
        _time("updated_at"),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "system", name="uq_order_customer_ref"),
    )
    op.create_table(
        "health_snapshot",
        _id(),
        _text("metric", 40),
        _text("period", 10),
        _time("period_start"),
        _text("dimension", 10),
        _text("channel", 40, True),
        _text("warehouse_code", 40, True),
        sa.Column("numerator", sa.Integer(), nullable=False),
        sa.Column("denominator", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        _time("computed_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_health_snapshot_lookup", ["metric", "period", "dimension", "period_start", "computed_at"], unique=False
        )
    op.create_table(
        "health_threshold_change",
        _id(),
        _text("metric", 40),
        sa.Column("old_value", sa.Float(), nullable=False),
        sa.Column("new_value", sa.Float(), nullable=False),
        _text("changed_by", 200),
        _time("changed_at"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("health_threshold_change", schema=None) as batch_op:
        batch_op.create_index("ix_health_threshold_change_metric", ["metric", "id"], unique=False)
    op.create_table(
        "health_alert",
        _id(),
        _text("metric", 40),
        _text("open_key", 40, True),
        _text("state", 10),
        _text("period", 10),
        _time("period_start"),
        sa.Column("raised_value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        _time("raised_at"),
        sa.Column("cleared_value", sa.Float(), nullable=True),
        _time("cleared_at", True),
        _time("raise_sent_at", True),
        _time("clear_sent_at", True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key", name="uq_health_alert_open"),
    )


def _backfill_drift() -> None:
    """Orders placed before this revision get their counters from their event log, as the write path keeps them."""
    moves = ", ".join(f"'{e.value}'" for e in sorted(MOVES))
    entered = " + ".join(
        f"CASE WHEN EXISTS (SELECT 1 FROM order_event e WHERE e.order_id = orders.id AND e.type = '{event.value}') "
        f"THEN {STAGE_BITS[stage]} ELSE 0 END"
        for stage, event in ((OrderStatus.PICKED, EventType.ORDER_PICKED), (OrderStatus.PACKED, EventType.ORDER_PACKED))
    )
    op.execute(
        f"UPDATE orders SET status_changes = (SELECT COUNT(*) FROM order_event e WHERE e.order_id = orders.id "
        f"AND e.type IN ({moves})), stages_entered = {entered}"
    )
    branches = " ".join(
        f"WHEN orders.status = '{status.value}' AND orders.stages_entered = {bits} "
        f"THEN {minimum_changes(OrderStatus.PENDING_PAYMENT, status, bits)}"
        for status in OrderStatus
        for bits in range(4)
    )
    op.execute(f"UPDATE orders SET min_status_changes = CASE {branches} ELSE 0 END")


def downgrade() -> None:
    op.drop_table("health_alert")
    with op.batch_alter_table("health_threshold_change", schema=None) as batch_op:
        batch_op.drop_index("ix_health_threshold_change_metric")
    op.drop_table("health_threshold_change")
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_health_snapshot_lookup")
    op.drop_table("health_snapshot")
    op.drop_table("order_customer_ref")
    with op.batch_alter_table("recon_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_item_statement_line_id"))
    with op.batch_alter_table("order_exception", schema=None) as batch_op:
        batch_op.drop_index("ix_order_exception_opened_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_placed_at")
        for name in ("status_changes", "min_status_changes", "stages_entered", "customer_refs", "customer_ids_differ"):
            batch_op.drop_column(name)
        batch_op.drop_column("landing_url")
        batch_op.drop_column("utm_campaign")
        batch_op.drop_column("utm_medium")
        batch_op.drop_column("utm_source")
