"""Which of the domain's publications become partner webhook events, and the body each is sent with.

Webhook events are not written by the code that changes an order: they are read from the outbox rows that
change already writes in its own transaction (the `orders`, `exceptions`, `payments` and `reconciliation`
topics), so that no write path can forget them and none pays for them while no endpoint listens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.access.policy import Scope
from domain.fulfilment.exceptions import EXCEPTION_TOPIC
from domain.fulfilment.models import ExceptionState
from domain.ledger.service import PAYMENT_TOPIC
from domain.money import Money
from domain.orders.service import ORDER_TOPIC
from domain.orders.status import RULES, EventType
from domain.reconcile.service import RECONCILIATION_TOPIC


class WebhookEventType(StrEnum):
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_PACKED = "order.packed"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    EXCEPTION_OPENED = "exception.opened"
    PAYMENT_POSTED = "payment.posted"
    RECONCILIATION_FINISHED = "reconciliation.finished"


ORDER_READERS = frozenset({Scope.ORDERS_READ, Scope.ORDERS_WRITE})

SELF_SERVICE: dict[WebhookEventType, frozenset[Scope]] = {
    WebhookEventType.ORDER_STATUS_CHANGED: ORDER_READERS,
    WebhookEventType.ORDER_PACKED: ORDER_READERS,
    WebhookEventType.ORDER_SHIPPED: ORDER_READERS,
    WebhookEventType.ORDER_DELIVERED: ORDER_READERS,
}
"""The event types a partner key may subscribe itself to: those about what its scopes already let it read.
Exceptions, payments and reconciliation are staff matters in the API; only an admin grants them to a partner."""

STATUS_EVENTS = frozenset({EventType.ORDER_PLACED, *(rule.event for rule in RULES)})
"""Log entries that move an order through the state machine; the others (notes, evidence held) leave it."""

MILESTONES = {
    EventType.ORDER_PACKED: WebhookEventType.ORDER_PACKED,
    EventType.ORDER_SHIPPED: WebhookEventType.ORDER_SHIPPED,
    EventType.ORDER_DELIVERED: WebhookEventType.ORDER_DELIVERED,
}


def node_id(type_name: str, key: int) -> str:
    """The object's global id as the GraphQL API spells it (api/graphql/ids.encode_gid; a test keeps them equal),
    so that a partner can look up what an event names with node(id:). Integer keys never leave the server."""
    return f"gid://orderhub/{type_name}/{key}"


@dataclass(frozen=True)
class NewEvent:
    key: str  # the source event's identity, unique: an outbox row sent twice makes one event
    type: WebhookEventType
    order_id: int | None
    data: dict[str, Any]
    occurred_at: datetime

    @property
    def message_id(self) -> str:
        """The webhook-id: derived from the event, so every endpoint and every retry sees the same id."""
        return "msg_" + hashlib.sha256(self.key.encode()).hexdigest()[:32]

    def body(self) -> str:
        """Standard Webhooks' payload shape: type, timestamp, data. Stored as sent, so retries are byte-equal."""
        envelope = {"type": self.type.value, "timestamp": self.occurred_at.isoformat(), "data": self.data}
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True)


def events_of(topic: str, payload: dict[str, Any], at: datetime) -> list[NewEvent]:
    """The webhook events one publication stands for; `at` is when it was written (the outbox row's time)."""
    if topic == ORDER_TOPIC:
        return _order_events(payload, at)
    if topic == EXCEPTION_TOPIC and payload.get("state") == ExceptionState.OPEN:
        return [_exception_opened(payload, at)]
    if topic == PAYMENT_TOPIC:
        return [_payment_posted(payload, at)]
    if topic == RECONCILIATION_TOPIC:
        return [_reconciliation_finished(payload, at)]
    return []


def _order_events(payload: dict[str, Any], at: datetime) -> list[NewEvent]:
    order_id, version = int(payload["order_id"]), int(payload["version"])
    event = EventType(payload["event_type"]) if payload.get("event_type") else None
    data = {
        "order": node_id("Order", order_id),
        "version": version,
        "status": payload["status"],
        "event": None if event is None else event.value,
        "warehouseCode": payload.get("warehouse_code"),
        "predictedNextAt": payload.get("predicted_next_at"),
    }
    types = []
    if event is None or event in STATUS_EVENTS:
        types.append(WebhookEventType.ORDER_STATUS_CHANGED)
    if event in MILESTONES:
        types.append(MILESTONES[event])
    return [NewEvent(f"{t.value}:{order_id}:{version}", t, order_id, data, at) for t in types]


def _exception_opened(payload: dict[str, Any], at: datetime) -> NewEvent:
    order_id = payload.get("order_id")
    data = {
        "exception": node_id("OrderException", int(payload["exception_id"])),
        "order": None if order_id is None else node_id("Order", int(order_id)),
        "kind": payload["kind"],
        "openedAt": payload["opened_at"],
    }
    key = f"{WebhookEventType.EXCEPTION_OPENED.value}:{payload['exception_id']}"
    return NewEvent(key, WebhookEventType.EXCEPTION_OPENED, order_id, data, at)


def _payment_posted(payload: dict[str, Any], at: datetime) -> NewEvent:
    order_id = payload.get("order_id")
    amount = Money(int(payload["amount"]), str(payload["currency"]))
    data = {
        "voucher": node_id("FundVoucher", int(payload["voucher_id"])),
        "order": None if order_id is None else node_id("Order", int(order_id)),
        "provider": payload["provider"],
        "providerTransactionId": payload["provider_txn_id"],
        "amount": {"amount": format(amount.decimal(), "f"), "currencyCode": amount.currency},
    }
    key = f"{WebhookEventType.PAYMENT_POSTED.value}:{payload['voucher_id']}"
    return NewEvent(key, WebhookEventType.PAYMENT_POSTED, order_id, data, at)


def _reconciliation_finished(payload: dict[str, Any], at: datetime) -> NewEvent:
    data = {
        "run": node_id("ReconRun", int(payload["run_id"])),
        "provider": payload["provider"],
        "statementLines": payload["statement_lines"],
        "matched": payload["matched"],
        "differences": payload["counts"],
    }
    key = f"{WebhookEventType.RECONCILIATION_FINISHED.value}:{payload['run_id']}"
    return NewEvent(key, WebhookEventType.RECONCILIATION_FINISHED, None, data, at)
