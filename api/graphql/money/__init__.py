"""The ledger and reconciliation over GraphQL (domain/ledger, domain/reconcile), for finance.

`OrderMoney` is re-exported because `Order` imports it from here."""

from api.graphql.money.types import OrderMoney, order_money

__all__ = ["OrderMoney", "order_money"]
