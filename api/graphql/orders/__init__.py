"""Orders over GraphQL: `types` (Order and the submission inputs), `queries`, `mutations`."""

from api.graphql.orders.mutations import OrderMutations
from api.graphql.orders.queries import OrderQueries
from api.graphql.orders.types import (
    BuyerAliasKind,
    Order,
    OrderEvent,
    OrderStatusEnum,
    SalesChannel,
    load_event,
    load_order,
    load_payload_orders,
)

__all__ = [
    "BuyerAliasKind",
    "Order",
    "OrderEvent",
    "OrderMutations",
    "OrderQueries",
    "OrderStatusEnum",
    "SalesChannel",
    "load_event",
    "load_order",
    "load_payload_orders",
]
