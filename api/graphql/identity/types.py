"""Buyer identity's GraphQL types: buyers and their channels, masked-phone suggestions, alias conflicts and
grouped duplicates."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import encode_gid
from api.graphql.node import Node
from api.graphql.orders import BuyerAliasKind, Order, SalesChannel, load_order
from api.graphql.permissions import allow
from api.graphql.scalars import Money
from domain.identity import errors, queries
from domain.identity.models import AliasConflict as ConflictRow
from domain.identity.models import AliasKind, SuggestionStatus
from domain.identity.models import BuyerChannel as LinkRow
from domain.identity.models import MatchSuggestion as SuggestionRow
from domain.orders.channels import Channel

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
    hour: datetime = strawberry.field(
        description="The start of the hour on the merchant's clock, as a UTC instant (zones off by half an hour "
        "start at :30 UTC)."
    )
    channel: SalesChannel  # type: ignore[valid-type]
    orders: int
    duplicates: int
    rate: float
    top_products: list[DuplicateProduct]


IdentityErrorCode = strawberry.enum(errors.IdentityErrorCode, description="Why an identity mutation was refused.")


@strawberry.type
class IdentityUserError:
    field: list[str] | None
    message: str
    code: IdentityErrorCode  # type: ignore[valid-type]
