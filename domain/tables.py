"""Imports every table so that SQLModel.metadata is complete for alembic and tests."""

from domain.access.models import AdminLogEntry, PartnerKey, StaffUser
from domain.channels.models import ChannelIntake, CleaningRuleSet, DriftAlert, SchemaBaseline
from domain.confirmations.models import ShipmentConfirmation
from domain.fulfilment.models import (
    CourierSubscription,
    FulfilmentEvidence,
    OrderException,
    Parcel,
    ShippedRuleVersion,
)
from domain.health.models import HealthAlert, HealthSnapshot, HealthThresholdChange, OrderCustomerRef, StoredRobot
from domain.identity.models import AliasConflict, BuyerAlias, BuyerChannel, MatchSuggestion, OrderGroup, OrderIdentity
from domain.intake.models import InboundMessage
from domain.invoices.models import InvoiceRequestRow
from domain.ledger.models import FundVoucher, FundVoucherConflict, OrderAdjustment, PaymentQuery
from domain.orders.models import Order, OrderEvent, OrderLine, OrderSupersession
from domain.outbox.models import OutboxMessage
from domain.prediction.models import NextStepModelRun
from domain.pull.models import ShopPull
from domain.push.models import PushDevice, PushNotice, PushPreference
from domain.reconcile.models import HeldStatement, ReconItem, ReconRun, Statement, StatementLine
from domain.shops.models import Shop
from domain.signin.models import CustomerSession, RefreshToken, SignInAttempt, SignInCode
from domain.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AdminLogEntry",
    "AliasConflict",
    "BuyerAlias",
    "BuyerChannel",
    "ChannelIntake",
    "CleaningRuleSet",
    "CourierSubscription",
    "CustomerSession",
    "DriftAlert",
    "FulfilmentEvidence",
    "FundVoucher",
    "FundVoucherConflict",
    "HealthAlert",
    "HealthSnapshot",
    "HealthThresholdChange",
    "HeldStatement",
    "InboundMessage",
    "InvoiceRequestRow",
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
    "PushDevice",
    "PushNotice",
    "PushPreference",
    "ReconItem",
    "ReconRun",
    "RefreshToken",
    "SchemaBaseline",
    "ShipmentConfirmation",
    "ShippedRuleVersion",
    "Shop",
    "ShopPull",
    "SignInAttempt",
    "SignInCode",
    "StaffUser",
    "Statement",
    "StatementLine",
    "StoredRobot",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
