"""What staff ask of buyer identity: a buyer's channels, suggestions to decide, alias conflicts, grouped
duplicates and the duplicate heatmap."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.identity.types import (
    STAFF,
    AliasConflict,
    Buyer,
    BuyerChannelLink,
    DuplicateCell,
    DuplicateCut,
    DuplicateProduct,
    HeatmapPeriod,
    MatchSuggestion,
    OrderGroup,
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

    @strawberry.field(description="Staff: duplicate groups still open to a split, oldest first.", extensions=STAFF)
    async def order_groups(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[OrderGroup]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "group")
        async with info.context.read() as session:
            rows, more = await queries.open_groups(session, first, after_id)
        return id_connection([OrderGroup(row=r) for r in rows], rows, "group", more, after_id is not None)

    @strawberry.field(
        description="Staff: per merchant hour (or day), channel and, when cut, utm_source or utm_campaign: the "
        "duplicate rate (grouped while pending, or paid twice) and the five most duplicated products.",
        extensions=STAFF,
    )
    async def duplicate_heatmap(
        self,
        info: Info[Context, None],
        placed_from: datetime,
        placed_to: datetime,
        first: int = 100,
        cut: DuplicateCut = queries.HeatCut.CHANNEL,  # type: ignore[valid-type]
        per: HeatmapPeriod = queries.HeatPeriod.HOUR,  # type: ignore[valid-type]
    ) -> list[DuplicateCell]:
        check_page_size(first, None)
        settings = info.context.runtime.settings
        async with info.context.read() as session:
            cells = await queries.duplicate_heatmap(
                session, placed_from, placed_to, tz=ZoneInfo(settings.merchant_timezone),
                window_s=settings.merge_window_seconds, cut=queries.HeatCut(cut), per=queries.HeatPeriod(per),
            )  # fmt: skip
        return [
            DuplicateCell(
                hour=c.hour,
                channel=Channel(c.channel),
                segment=c.segment,
                orders=c.orders,
                duplicates=c.duplicates,
                merged_duplicates=c.merged,
                paid_duplicates=c.paid,
                rate=c.rate,
                top_products=[
                    DuplicateProduct(sku=p.sku, orders=p.orders, duplicates=p.duplicates, rate=p.rate)
                    for p in c.products
                ],
            )
            for c in cells[:first]
        ]
