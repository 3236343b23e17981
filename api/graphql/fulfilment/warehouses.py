"""The warehouses orderhub has seen, for the console's warehouse pickers (exceptions queue, lead times)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_text_cursor, encode_cursor
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.fulfilment import warehouses as service


@strawberry.type(description="A warehouse code that an order or a warehouse's own event named.")
class Warehouse:
    code: str
    open_exceptions: int = strawberry.field(
        description="Open exceptions of this warehouse, as `orderExceptions(filter: {warehouseCode})` finds them: "
        "the order's warehouse, else the warehouse whose event opened the case."
    )

    @classmethod
    def of(cls, found: service.Warehouse) -> Warehouse:
        return cls(code=found.code, open_exceptions=found.open_exceptions)


@strawberry.type
class WarehouseQueries:
    @strawberry.field(
        description="Staff only: every warehouse code orders and warehouse events have named, in code order.",
        extensions=allow(any_staff=True),
    )
    async def warehouses(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[Warehouse]:
        check_page_size(first, None)
        async with info.context.read() as session:
            found, more = await service.seen_warehouses(session, first, decode_text_cursor(after, "warehouse"))
        cursors = [encode_cursor("warehouse", w.code) for w in found]
        return connection([Warehouse.of(w) for w in found], cursors, more, after is not None)
