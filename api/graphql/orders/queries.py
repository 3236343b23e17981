"""Order reads: one order by id, and the caller's orders as a connection."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor
from api.graphql.orders.types import Order, OrderFilter, load_order
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import READ_ORDERS, allow, may
from domain.errors import UserError
from domain.i18n import render, tr
from domain.orders import lookup, queries


@strawberry.type
class OrderQueries:
    @strawberry.field(
        description="An order by id; another buyer's order answers null, as if it did not exist.",
        extensions=allow(**READ_ORDERS),
    )
    async def order(self, info: Info[Context, None], id: strawberry.ID) -> Order | None:
        _, key = decode_gid(id, "Order")
        return await load_order(info, key)

    @strawberry.field(
        description="Orders visible to the caller, newest first. Customers see only their own.",
        extensions=allow(**READ_ORDERS),
    )
    async def orders(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: OrderFilter | None = None,
    ) -> Connection[Order]:
        check_page_size(first, last)
        viewer = info.context.viewer
        assert viewer is not None
        f = filter or OrderFilter()
        _staff_only(info, f)
        identity = info.context.runtime.core.identity
        criteria = queries.OrderFilter(
            statuses=[s.value for s in f.statuses or []],
            channels=[c.value for c in f.channels or []],
            placed_from=f.placed_from,
            placed_to=f.placed_to,
            buyer_uid=f.buyer_uid,
            warehouse_code=f.warehouse_code,
            channel_order_id=f.channel_order_id,
            tracking_number=f.tracking_number,
            buyer_uids=_buyer_uids(info, f),
            reference=None if f.search is None else f.search.strip(),
            reference_buyer_uids=() if f.search is None else lookup.reference_buyers(identity, f.search.strip()),
        )
        request = queries.PageRequest(first, decode_cursor(after, "order"), last, decode_cursor(before, "order"))
        async with info.context.read() as session:
            page = await queries.list_orders(session, viewer, criteria, request)
        return connection(
            [Order.of(row) for row in page.rows],
            [encode_cursor("order", row.id) for row in page.rows if row.id is not None],
            page.has_next,
            page.has_previous,
        )


def _buyer_uids(info: Info[Context, None], f: OrderFilter) -> list[str] | None:
    """The staff-only buyer fields as the UIDs to match: `buyer` as given, `phone` hashed (and both, when both
    are given, must name the same buyer)."""
    if f.phone is None and f.buyer is None:
        return None
    uids: set[str] | None = None if f.buyer is None else {f.buyer}
    if f.phone is not None:
        try:
            hashed = set(lookup.phone_buyers(info.context.runtime.core.identity, f.phone))
        except UserError as refused:
            [problem] = refused.problems
            raise GraphQLError(
                render(problem.message), extensions={"code": str(problem.code), "field": ["filter", "phone"]}
            ) from None
        uids = hashed if uids is None else uids & hashed
    return sorted(uids)


def _staff_only(info: Info[Context, None], f: OrderFilter) -> None:
    """The fields that name a buyer (or may: a search can be a phone) are for staff, who answer buyers."""
    for name, value in (("phone", f.phone), ("buyer", f.buyer), ("search", f.search)):
        if value is not None and not may(info, any_staff=True):
            raise GraphQLError(
                tr("only staff may filter orders by {field}", field="filter." + name),
                extensions={"code": "FORBIDDEN", "field": ["filter", name]},
            )
