"""Fulfilment's queries: the calling customer's own orders."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.fulfilment.types import OrderRef
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.orders import queries


@strawberry.type
class FulfilmentQueries:
    @strawberry.field(description="The calling customer's own orders, newest first.", extensions=allow(customers=True))
    async def my_orders(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[OrderRef]:
        from api.graphql.orders import Order

        check_page_size(first, None)
        viewer = info.context.viewer
        assert viewer is not None and not viewer.unrestricted
        request = queries.PageRequest(first, decode_cursor(after, "order"))
        async with info.context.read() as session:
            page = await queries.list_orders(session, viewer, queries.OrderFilter(), request)
        return connection(
            [Order.of(row) for row in page.rows],
            [encode_cursor("order", row.id) for row in page.rows if row.id is not None],
            page.has_next,
            page.has_previous,
        )
