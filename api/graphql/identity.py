"""Buyer identity over GraphQL, for staff: a buyer's channels and primary channel, masked-phone
suggestions to decide, alias conflicts, grouped duplicates to split, and the duplicate heatmap."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.errors import code_of, field_path
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor, encode_gid
from api.graphql.node import Node, visible_row
from api.graphql.orders import BuyerAliasKind, Order, SalesChannel, load_order
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from api.graphql.scalars import Money
from domain.errors import Problem, UserError
from domain.identity import queries
from domain.identity.grouping import split_group
from domain.identity.models import AliasConflict as ConflictRow
from domain.identity.models import AliasKind, SuggestionStatus
from domain.identity.models import BuyerChannel as LinkRow
from domain.identity.models import MatchSuggestion as SuggestionRow
from domain.identity.service import decide_suggestion
from domain.orders.channels import Channel
from domain.outbox.service import Outbox

STAFF = allow(any_staff=True)
SuggestionStatusEnum = strawberry.enum(SuggestionStatus, name="MatchSuggestionStatus")


@strawberry.type(description="A buyer's first order on one channel.")
class BuyerChannelLink:
    row: strawberry.Private[LinkRow]

    @strawberry.field
    def channel(self) -> SalesChannel:  # type: ignore[valid-type]
        return Channel(self.row.channel)

    @strawberry.field
    def first_order_at(self) -> datetime:
        return self.row.first_order_at

    @strawberry.field
    def first_order_amount(self) -> Money:
        return Money.of(self.row.first_order_amount, self.row.currency)

    @strawberry.field(description="The order whose buyer data an invoice takes when this is the primary channel.")
    async def first_order(self, info: Info[Context, None]) -> Order | None:
        return await load_order(info, self.row.first_order_id)


@strawberry.type
class PlatformAlias:
    kind: BuyerAliasKind  # type: ignore[valid-type]
    value: str


@strawberry.type(description="One buyer across channels, known only by the keyed hash of their phone.")
class Buyer:
    uid: str
    channels: list[BuyerChannelLink]
    aliases: list[PlatformAlias]

    @strawberry.field(description="The channel of the largest first order, then the earliest.")
    def primary_channel(self) -> BuyerChannelLink | None:
        primary = queries.primary_of([link.row for link in self.channels])
        return None if primary is None else BuyerChannelLink(row=primary)


@strawberry.type(description="A masked-phone order that may belong to a known buyer; a person decides.")
class MatchSuggestion(Node):
    row: strawberry.Private[SuggestionRow]

    @classmethod
    def of(cls, row: SuggestionRow) -> MatchSuggestion:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("MatchSuggestion", row.id)), row=row)

    @strawberry.field
    def status(self) -> SuggestionStatusEnum:  # type: ignore[valid-type]
        return SuggestionStatus(self.row.status)

    @strawberry.field
    def candidate_uid(self) -> str:
        return self.row.candidate_uid

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> Order | None:
        return await load_order(info, self.row.order_id)

    @strawberry.field(description="The candidate buyer's order with the same masked pattern and region.")
    async def evidence_order(self, info: Info[Context, None]) -> Order | None:
        return await load_order(info, self.row.evidence_order_id)


@strawberry.type(description="A platform id seen with two buyers; it stays with the first.")
class AliasConflict:
    row: strawberry.Private[ConflictRow]

    @strawberry.field
    def kind(self) -> BuyerAliasKind:  # type: ignore[valid-type]
        return AliasKind(self.row.kind)

    @strawberry.field
    def value(self) -> str:
        return self.row.value

    @strawberry.field
    def held_uid(self) -> str:
        return self.row.held_uid

    @strawberry.field
    def claimed_uid(self) -> str:
        return self.row.claimed_uid

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> Order | None:
        return await load_order(info, self.row.order_id)


@strawberry.type
class DuplicateProduct:
    sku: str
    orders: int
    duplicates: int
    rate: float


@strawberry.type(description="One hour of one channel: how many orders were grouped as duplicates.")
class DuplicateCell:
    hour: datetime
    channel: SalesChannel  # type: ignore[valid-type]
    orders: int
    duplicates: int
    rate: float
    top_products: list[DuplicateProduct]


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
        return connection(
            [MatchSuggestion.of(r) for r in rows],
            [encode_cursor("suggestion", r.id) for r in rows if r.id is not None],
            more,
            after_id is not None,
        )

    @strawberry.field(description="Staff: platform ids that two buyers claimed, oldest first.", extensions=STAFF)
    async def alias_conflicts(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[AliasConflict]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "conflict")
        async with info.context.read() as session:
            rows, more = await queries.conflicts(session, first, after_id)
        return connection(
            [AliasConflict(row=r) for r in rows],
            [encode_cursor("conflict", r.id) for r in rows if r.id is not None],
            more,
            after_id is not None,
        )

    @strawberry.field(
        description="Staff: per UTC hour and channel, the duplicate rate and the five most duplicated products.",
        extensions=STAFF,
    )
    async def duplicate_heatmap(
        self, info: Info[Context, None], placed_from: datetime, placed_to: datetime, first: int = 100
    ) -> list[DuplicateCell]:
        check_page_size(first, None)
        async with info.context.read() as session:
            cells = await queries.duplicate_heatmap(session, placed_from, placed_to)
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


@strawberry.enum(description="Why an identity mutation was refused.")
class IdentityErrorCode(Enum):
    NOT_A_GROUP = "NOT_A_GROUP"
    GROUP_PAID = "GROUP_PAID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    ALREADY_MATCHED = "ALREADY_MATCHED"
    INVALID = "INVALID"


@strawberry.type
class IdentityUserError:
    field: list[str] | None
    message: str
    code: IdentityErrorCode


def _errors(problems: list[Problem]) -> list[IdentityUserError]:
    return [
        IdentityUserError(
            field=field_path((), p),
            message=p.message,
            code=code_of(IdentityErrorCode, p.code, IdentityErrorCode.INVALID),
        )
        for p in problems
    ]


@strawberry.input
class SplitGroupInput:
    parent_order_id: strawberry.ID


@strawberry.type
class SplitGroupPayload:
    child_ids: strawberry.Private[list[int]]
    user_errors: list[IdentityUserError]

    @strawberry.field(description="The restored orders, pending payment again.")
    async def orders(self, info: Info[Context, None]) -> list[Order]:
        found = [await load_order(info, key) for key in self.child_ids]
        return [o for o in found if o is not None]


@strawberry.input
class DecideMatchSuggestionInput:
    id: strawberry.ID
    confirm: bool


@strawberry.type
class DecideMatchSuggestionPayload:
    suggestion: MatchSuggestion | None
    user_errors: list[IdentityUserError]


def _actor(info: Info[Context, None]) -> str:
    principal = info.context.principal
    assert isinstance(principal, Staff)
    return f"staff:{principal.email}"


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Staff: undo a group of duplicates; refused once the group is paid.", extensions=STAFF
    )
    async def split_group(self, info: Info[Context, None], input: SplitGroupInput) -> SplitGroupPayload:
        _, key = decode_gid(input.parent_order_id, "Order")
        try:
            async with info.context.unit_of_work() as session:
                children = await split_group(session, Outbox(), key, _actor(info))
        except UserError as error:
            return SplitGroupPayload(child_ids=[], user_errors=_errors(error.problems))
        return SplitGroupPayload(child_ids=children, user_errors=[])

    @strawberry.mutation(
        description="Staff: confirm (the order gets the buyer's UID) or reject a masked-phone suggestion.",
        extensions=STAFF,
    )
    async def decide_match_suggestion(
        self, info: Info[Context, None], input: DecideMatchSuggestionInput
    ) -> DecideMatchSuggestionPayload:
        _, key = decode_gid(input.id, "MatchSuggestion")
        try:
            async with info.context.unit_of_work() as session:
                row = await decide_suggestion(session, key, input.confirm, _actor(info))
        except UserError as error:
            return DecideMatchSuggestionPayload(suggestion=None, user_errors=_errors(error.problems))
        return DecideMatchSuggestionPayload(suggestion=MatchSuggestion.of(row), user_errors=[])
