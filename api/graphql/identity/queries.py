"""What staff ask of buyer identity: a buyer's channels, suggestions to decide, alias conflicts, grouped
duplicates and the duplicate heatmap."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.identity.types import (
    STAFF,
    AliasConflict,
    Buyer,
    BuyerChannelLink,
    DuplicateCell,
    DuplicateProduct,
    MatchSuggestion,
    PlatformAlias,
    SuggestionStatusEnum,
)
from api.graphql.ids import decode_cursor
from api.graphql.node import visible_row
from api.graphql.pagination import Connection, check_page_size, id_connection
from domain.identity import queries
from domain.identity.models import AliasKind, SuggestionStatus
from domain.identity.models import MatchSuggestion as SuggestionRow
from domain.orders.channels import Channel


async def load_suggestion(info: Info[Context, None], key: int) -> MatchSuggestion | None:
    row = await visible_row(info, SuggestionRow, key, any_staff=True)
    return None if row is None else MatchSuggestion.of(row)


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="Staff: one buyer's channels, primary channel and platform ids.", extensions=STAFF)
    async def buyer(self, info: Info[Context, None], uid: str) -> Buyer | None:
        async with info.context.read() as session:
            links = await queries.buyer_channels(session, uid)
            aliases = await queries.buyer_aliases(session, uid)
        if not links:
            return None
        return Buyer(
            uid=uid,
            channels=[BuyerChannelLink(row=link) for link in links],
            aliases=[PlatformAlias(kind=AliasKind(a.kind), value=a.value) for a in aliases],
        )

    @strawberry.field(description="Staff: masked-phone matches waiting for a decision, oldest first.", extensions=STAFF)
    async def match_suggestions(
        self,
        info: Info[Context, None],
        first: int,
        after: str | None = None,
        status: SuggestionStatusEnum = SuggestionStatus.PENDING,  # type: ignore[valid-type]
    ) -> Connection[MatchSuggestion]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "suggestion")
        async with info.context.read() as session:
            rows, more = await queries.suggestions(session, SuggestionStatus(status).value, first, after_id)
        return id_connection([MatchSuggestion.of(r) for r in rows], rows, "suggestion", more, after_id is not None)

    @strawberry.field(description="Staff: platform ids that two buyers claimed, oldest first.", extensions=STAFF)
    async def alias_conflicts(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[AliasConflict]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "conflict")
        async with info.context.read() as session:
            rows, more = await queries.conflicts(session, first, after_id)
        return id_connection([AliasConflict(row=r) for r in rows], rows, "conflict", more, after_id is not None)

    @strawberry.field(
        description="Staff: per hour of the merchant's clock (ORDERHUB_MERCHANT_TIMEZONE) and channel, the duplicate "
        "rate and the five most duplicated products; each cell's `hour` is that hour's start as a UTC instant.",
        extensions=STAFF,
    )
    async def duplicate_heatmap(
        self, info: Info[Context, None], placed_from: datetime, placed_to: datetime, first: int = 100
    ) -> list[DuplicateCell]:
        check_page_size(first, None)
        async with info.context.read() as session:
            cells = await queries.duplicate_heatmap(
                session, placed_from, placed_to, info.context.runtime.settings.merchant_zone
            )
        return [
            DuplicateCell(
                hour=c.hour,
                channel=Channel(c.channel),
                orders=c.orders,
                duplicates=c.duplicates,
                rate=c.rate,
                top_products=[
                    DuplicateProduct(sku=p.sku, orders=p.orders, duplicates=p.duplicates, rate=p.rate)
                    for p in c.products
                ],
            )
            for c in cells[:first]
        ]
