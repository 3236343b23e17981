"""Imports every table so that SQLModel.metadata is complete for alembic and tests."""

from domain.access.models import PartnerKey, StaffUser
from domain.intake.models import InboundMessage
from domain.ledger.models import FundVoucher, FundVoucherConflict, OrderAdjustment
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.outbox.models import OutboxMessage
from domain.reconcile.models import ReconItem, ReconRun, Statement, StatementLine

__all__ = [
    "FundVoucher",
    "FundVoucherConflict",
    "InboundMessage",
    "Order",
    "OrderAdjustment",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "PartnerKey",
    "ReconItem",
    "ReconRun",
    "StaffUser",
    "Statement",
    "StatementLine",
]
