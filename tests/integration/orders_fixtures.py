"""Order payloads and GraphQL documents shared by the integration tests."""

from __future__ import annotations

from typing import Any

SUBMIT_ORDER = """
mutation Submit($input: OrderInput!) {
  submitOrder(input: $input) {
    order { id channel channelOrderId status version buyerUid
            totalAmount { amount currencyCode } itemsAmount { amount currencyCode }
            lines { lineNo sku quantity unitPrice { amount } amount { amount } } }
    userErrors { field message code }
  }
}
"""

SUBMIT_ORDERS = """
mutation SubmitMany($input: SubmitOrdersInput!) {
  submitOrders(input: $input) {
    orders { id channelOrderId status }
    userErrors { field message code }
  }
}
"""

ORDER = """
query One($id: ID!) { order(id: $id) { id channelOrderId status buyerUid totalAmount { amount currencyCode } } }
"""

ORDERS = """
query Many($first: Int, $after: String, $last: Int, $before: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { id channelOrderId status channel } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def order_input(channel_order_id: str = "4102938475610293847", **overrides: Any) -> dict[str, Any]:
    """A Taobao order: two lines, a 20 yuan coupon, free shipping, paid 80 yuan + 15.90."""
    base: dict[str, Any] = {
        "channel": "TAOBAO",
        "channelOrderId": channel_order_id,
        "currencyCode": "CNY",
        "placedAt": "2026-11-24T20:15:03+08:00",
        "status": "PENDING_PAYMENT",
        "lines": [
            {"sku": "SKU-TEA-001", "title": "明前龙井 250g", "quantity": 1, "unitPrice": "100.00"},
            {"sku": "SKU-CUP-002", "title": "玻璃杯", "quantity": 1, "unitPrice": "15.90"},
        ],
        "discountAmount": "20.00",
        "shippingAmount": "0",
        "totalAmount": "95.90",
        "buyer": {"phone": "+86 138 1234 5678", "platformBuyerId": "AAHk5d-buyer"},
        "warehouseCode": "WH-SH-01",
    }
    base.update(overrides)
    return base
