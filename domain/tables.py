"""Imports every table so that SQLModel.metadata is complete for alembic and tests."""

from domain.access.models import PartnerKey, StaffUser
from domain.channels.models import ChannelIntake, CleaningRuleSet, DriftAlert, SchemaBaseline
from domain.fulfilment.models import (
    CourierSubscription,
    FulfilmentEvidence,
    OrderException,
    Parcel,
    ShippedRuleVersion,
)
from domain.health.models import HealthAlert, HealthSnapshot, HealthThresholdChange, OrderCustomerRef
from domain.identity.models import AliasConflict, BuyerAlias, BuyerChannel, MatchSuggestion, OrderGroup, OrderIdentity
from domain.intake.models import InboundMessage
from domain.ledger.models import FundVoucher, FundVoucherConflict, OrderAdjustment, PaymentQuery
from domain.orders.models import Order, OrderEvent, OrderLine, OrderSupersession
from domain.outbox.models import OutboxMessage
from domain.prediction.models import NextStepModelRun
from domain.reconcile.models import ReconItem, ReconRun, Statement, StatementLine

__all__ = [
    "AliasConflict",
    "BuyerAlias",
    "BuyerChannel",
    "ChannelIntake",
    "CleaningRuleSet",
    "CourierSubscription",
    "DriftAlert",
    "FulfilmentEvidence",
    "FundVoucher",
    "FundVoucherConflict",
    "HealthAlert",
    "HealthSnapshot",
    "HealthThresholdChange",
    "InboundMessage",
    "MatchSuggestion",
    "NextStepModelRun",
    "Order",
    "OrderAdjustment",
    "OrderCustomerRef",
    "OrderEvent",
    "OrderException",
    "OrderGroup",
    "OrderIdentity",
    "OrderLine",
    "OrderSupersession",
    "OutboxMessage",
    "Parcel",
    "PartnerKey",
    "PaymentQuery",
    "ReconItem",
    "ReconRun",
    "SchemaBaseline",
    "ShippedRuleVersion",
    "StaffUser",
    "Statement",
    "StatementLine",
]
