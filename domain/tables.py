"""Imports every table so that SQLModel.metadata is complete for alembic and tests."""

from domain.access.models import PartnerKey, StaffUser
from domain.channels.models import ChannelIntake, CleaningRuleSet, DriftAlert, SchemaBaseline
from domain.fulfilment.models import FulfilmentEvidence, OrderException, ShippedRuleVersion
from domain.intake.models import InboundMessage
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.outbox.models import OutboxMessage

__all__ = [
    "ChannelIntake",
    "CleaningRuleSet",
    "DriftAlert",
    "FulfilmentEvidence",
    "InboundMessage",
    "Order",
    "OrderEvent",
    "OrderException",
    "OrderLine",
    "OutboxMessage",
    "PartnerKey",
    "SchemaBaseline",
    "ShippedRuleVersion",
    "StaffUser",
]
