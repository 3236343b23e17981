"""Tables of order health: what partner systems say about an order's customer, the computed snapshots,
the threshold changes admins make, the alerts raised when a metric crosses its threshold, and the group-chat
robots set from the console that carry those alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.columns import BigId, id_column, utc_column


class ExternalSystem(StrEnum):
    """The partner systems that keep their own customer record of an order."""

    ERP = "ERP"
    CRM = "CRM"
    WMS = "WMS"


class OrderCustomerRef(SQLModel, table=True):
    """One per (order, system): the latest customer id and grade that system reported for the order."""

    __tablename__ = "order_customer_ref"
    __table_args__ = (UniqueConstraint("order_id", "system", name="uq_order_customer_ref"),)

    id: int | None = Field(default=None, sa_column=id_column())
    order_id: int = Field(sa_column=Column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False))
    system: str = Field(max_length=10)
    customer_id: str = Field(max_length=100)
    customer_grade: str | None = Field(default=None, max_length=40)
    reported_by: str = Field(max_length=200)
    reported_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    reports: int = 1


class HealthSnapshot(SQLModel, table=True):
    """One computed value: `dimension` ALL has neither channel nor warehouse, CHANNEL one, WAREHOUSE the other.

    Rows are added, never changed: the value a period had when it was computed stays readable."""

    __tablename__ = "health_snapshot"
    __table_args__ = (
        Index("ix_health_snapshot_lookup", "metric", "period", "dimension", "period_start", "computed_at"),
    )

    id: int | None = Field(default=None, sa_column=id_column())
    metric: str = Field(max_length=40)
    period: str = Field(max_length=10)
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    dimension: str = Field(max_length=10)
    channel: str | None = Field(default=None, max_length=40)
    warehouse_code: str | None = Field(default=None, max_length=40)
    numerator: int
    denominator: int
    value: float | None = Field(default=None, sa_column=Column(Float(), nullable=True))
    threshold: float = Field(sa_column=Column(Float(), nullable=False))
    computed_at: datetime = Field(sa_column=utc_column(nullable=False))


class HealthThresholdChange(SQLModel, table=True):
    """Append-only: the current threshold of a metric is its latest change, or the default without one."""

    __tablename__ = "health_threshold_change"
    __table_args__ = (Index("ix_health_threshold_change_metric", "metric", "id"),)

    id: int | None = Field(default=None, sa_column=id_column())
    metric: str = Field(max_length=40)
    old_value: float = Field(sa_column=Column(Float(), nullable=False))
    new_value: float = Field(sa_column=Column(Float(), nullable=False))
    changed_by: str = Field(max_length=200)
    changed_at: datetime = Field(sa_column=utc_column(nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))


class AlertState(StrEnum):
    RAISED = "RAISED"
    CLEARED = "CLEARED"


class HealthAlert(SQLModel, table=True):
    """One row per crossing: raised once when the metric turns unhealthy, cleared when it recovers.

    `open_key` holds the metric while the alert is raised and is emptied on clearing; being unique, it lets
    the database refuse a second raised alert for the same metric however many computations race."""

    __tablename__ = "health_alert"
    __table_args__ = (UniqueConstraint("open_key", name="uq_health_alert_open"),)

    id: int | None = Field(default=None, sa_column=id_column())
    metric: str = Field(max_length=40)
    open_key: str | None = Field(default=None, max_length=40)
    state: str = Field(max_length=10)
    period: str = Field(max_length=10)
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    raised_value: float = Field(sa_column=Column(Float(), nullable=False))
    threshold: float = Field(sa_column=Column(Float(), nullable=False))
    raised_at: datetime = Field(sa_column=utc_column(nullable=False))
    cleared_value: float | None = Field(default=None, sa_column=Column(Float(), nullable=True))
    cleared_at: datetime | None = Field(default=None, sa_column=utc_column())
    raise_sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    clear_sent_at: datetime | None = Field(default=None, sa_column=utc_column())


class StoredRobot(SQLModel, table=True):
    """One per robot kind, set from the console; it wins over the environment's robot of that kind.

    The webhook address holds the robot's token and DingTalk's signing secret signs every message, so both live
    only in `sealed` (the vault's); `host` and `signed` are what may be shown. A row without `sealed` is a robot
    switched off without an address of its own: it silences the environment's robot of that kind."""

    __tablename__ = "alert_robot"

    kind: str = Field(sa_column=Column(String(20), primary_key=True))
    sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary(), nullable=True))
    host: str | None = Field(default=None, max_length=255)
    signed: bool = Field(default=False, sa_column=Column(Boolean(), nullable=False))
    enabled: bool = Field(default=True, sa_column=Column(Boolean(), nullable=False))
    set_by: str = Field(max_length=200)
    set_at: datetime = Field(sa_column=utc_column(nullable=False))
