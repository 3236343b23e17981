"""Imports every table so that SQLModel.metadata is complete for alembic and tests."""

from domain.access.models import PartnerKey, StaffUser
from domain.identity.models import AliasConflict, BuyerAlias, BuyerChannel, MatchSuggestion, OrderGroup, OrderIdentity
from domain.intake.models import InboundMessage
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.outbox.models import OutboxMessage

__all__ = [
    "AliasConflict",
    "BuyerAlias",
    "BuyerChannel",
    "InboundMessage",
    "MatchSuggestion",
    "Order",
    "OrderEvent",
    "OrderGroup",
    "OrderIdentity",
    "OrderLine",
    "OutboxMessage",
    "PartnerKey",
    "StaffUser",
]
