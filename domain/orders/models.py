"""Tables of the order projection and its append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, money_column, utc_column
from domain.jsoncol import json_column
from domain.orders.channels import attribution_sql


def _order_fk(*, nullable: bool = False) -> Any:
    return Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=nullable, index=True)


DRIFTING = "{o}status_changes > {o}min_status_changes"
IDS_DIFFER = "{o}customer_ids_differ = 1"
"""The health drill-downs' conditions, written once for their queries ({o} = "o.") and their indexes ({o} = "")."""


def _partial(name: str, predicate: str) -> Index:
    """An index of placement times over the few orders a health drill-down lists: the day's other orders are
    never read to find them."""
    return Index(name, "placed_at", postgresql_where=text(predicate), sqlite_where=text(predicate))


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "channel_order_id", name="uq_orders_channel_order"),
        Index("ix_orders_buyer_uid_id", "buyer_uid", "id"),
        Index("ix_orders_channel_placed", "channel", "placed_at"),
        # payment providers know only our order number, not the channel it came from
        Index("ix_orders_channel_order_id", "channel_order_id"),
        # health: every metric over orders reads one period of placement
        Index("ix_orders_placed_at", "placed_at"),
        _partial("ix_orders_drifting", DRIFTING.format(o="")),
        _partial("ix_orders_misattributed", f"NOT {attribution_sql('')}"),
        _partial("ix_orders_ids_differ", IDS_DIFFER.format(o="")),
        # the warehouses orderhub has seen, read one code at a time (domain/fulfilment/warehouses.py)
        Index("ix_orders_warehouse_code", "warehouse_code"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    channel: str = Field(max_length=40)
    channel_order_id: str = Field(max_length=100)
    status: str = Field(max_length=30, index=True)
    raw_status: str | None = Field(default=None, max_length=60)
    buyer_uid: str | None = Field(default=None, max_length=64)
    buyer_key_version: int | None = None
    buyer_key_problem: str | None = Field(default=None, max_length=40)
    platform_buyer_id: str | None = Field(default=None, max_length=200)
    currency: str = Field(max_length=3)
    items_amount: int = Field(sa_column=money_column())
    shipping_amount: int = Field(sa_column=money_column())
    discount_amount: int = Field(sa_column=money_column())
    total_amount: int = Field(sa_column=money_column())
    warehouse_code: str | None = Field(default=None, max_length=40)
    # The channel's id of the shop that sold it, where the payload names one (domain/shops); null on older orders.
    shop_code: str | None = Field(default=None, max_length=100)
    # Attribution as the channel sent it (utm_source lower-cased); health judges it against the channel.
    utm_source: str | None = Field(default=None, max_length=100)
    utm_medium: str | None = Field(default=None, max_length=100)
    utm_campaign: str | None = Field(default=None, max_length=200)
    landing_url: str | None = Field(default=None, max_length=500)
    placed_at: datetime = Field(sa_column=utc_column(nullable=False))
    paid_at: datetime | None = Field(default=None, sa_column=utc_column())
    ship_requested_at: datetime | None = Field(default=None, sa_column=utc_column())
    picked_at: datetime | None = Field(default=None, sa_column=utc_column())
    packed_at: datetime | None = Field(default=None, sa_column=utc_column())
    shipped_at: datetime | None = Field(default=None, sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column())
    completed_at: datetime | None = Field(default=None, sa_column=utc_column())
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Where the order physically is, as the warehouse or carrier last reported it; only their evidence writes these.
    tracking_number: str | None = Field(default=None, max_length=60, index=True)
    carrier_code: str | None = Field(default=None, max_length=40)
    current_zone: str | None = Field(default=None, max_length=60)
    current_station: str | None = Field(default=None, max_length=60)
    current_operator: str | None = Field(default=None, max_length=100)
    stage_entered_at: datetime | None = Field(default=None, sa_column=utc_column())
    # The next step as the prediction job last stored it (domain/prediction); queries only read these.
    predicted_next_at: datetime | None = Field(default=None, sa_column=utc_column())
    predicted_next_stage: str | None = Field(default=None, max_length=30)
    predicted_low_at: datetime | None = Field(default=None, sa_column=utc_column())
    predicted_high_at: datetime | None = Field(default=None, sa_column=utc_column())
    prediction_model_version: int | None = None
    prediction_basis: str | None = Field(default=None, max_length=10)
    version: int = 0
    # health, kept with every event: status changes so far, the fewest the order needed, stages it entered (bits)
    status_changes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    min_status_changes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    stages_entered: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # health, kept with every partner report: systems that named a customer, and 1 when they disagree
    customer_refs: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    customer_ids_differ: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    parent_order_id: int | None = Field(  # identity: grouping; NO ACTION, so a group and its children delete together
        default=None, sa_column=Column(BigId, ForeignKey("orders.id"), nullable=True, index=True)
    )


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_line_no"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=_order_fk())
    line_no: int
    sku: str = Field(max_length=100)
    title: str = Field(max_length=300)
    quantity: int
    unit_price: int = Field(sa_column=money_column())
    amount: int = Field(sa_column=money_column())


class OrderEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "order_event"
    __table_args__ = (UniqueConstraint("order_id", "version", name="uq_order_event_version"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=_order_fk())
    version: int
    type: str = Field(max_length=40)
    status: str = Field(max_length=30)
    source: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    occurred_at: datetime = Field(sa_column=utc_column(nullable=False))
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))
    inbound_message_id: int | None = Field(
        default=None,
        sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True),
    )
    data: dict[str, Any] = Field(sa_column=json_column())


class OrderSupersession(SQLModel, table=True):
    """An order made under a wrong channel order number, and the order of the same sale under the right one.

    Keyed by the old order, so that it is superseded once however often a replay runs."""

    __tablename__ = "order_supersession"

    old_order_id: int = Field(
        sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), primary_key=True, autoincrement=False)
    )
    new_order_id: int = Field(sa_column=_order_fk())
    inbound_message_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("inbound_message.id"), nullable=True)
    )
    actor: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
