"""Admin: the shops orderhub confirms shipments through."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.node import visible_row
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.shops.types import ADMIN, Shop
from domain.access.policy import Role
from domain.shops.models import Shop as ShopRow
from domain.shops.service import list_shops


async def load_shop(info: Info[Context, None], key: int) -> Shop | None:
    row = await visible_row(info, ShopRow, key, roles=frozenset({Role.ADMIN}))
    return None if row is None else Shop.of(row)


@strawberry.type
class ShopQueries:
    @strawberry.field(description="Admin: every shop, in the order they were registered.", extensions=ADMIN)
    async def shops(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[Shop]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await list_shops(session, decode_cursor(after, "shop"), first + 1)
        page = rows[:first]
        cursors = [encode_cursor("shop", row.id or 0) for row in page]
        return connection([Shop.of(row) for row in page], cursors, len(rows) > first, after is not None)
