"""A shop as the API shows it: who it is on its channel and whether its credentials work, never the credentials."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.ids import encode_gid
from api.graphql.node import Node
from api.graphql.orders import SalesChannel
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.orders.channels import Channel
from domain.pull.models import ShopPull as ShopPullRow
from domain.pull.service import last_note_of
from domain.shops import errors
from domain.shops.models import Shop as ShopRow

ADMIN = allow(roles=frozenset({Role.ADMIN}))
ShopErrorCode = strawberry.enum(errors.ShopErrorCode)


@strawberry.type
class ShopUserError:
    field: list[str] | None
    message: str
    code: ShopErrorCode  # type: ignore[valid-type]


@strawberry.type(description="Admin: a shop on one channel. Its credentials are sealed and never returned.")
class Shop(Node):
    row: strawberry.Private[ShopRow]

    @classmethod
    def of(cls, row: ShopRow) -> Shop:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("Shop", row.id)), row=row)

    @strawberry.field
    def channel(self) -> SalesChannel:  # type: ignore[valid-type]
        return Channel(self.row.channel)

    @strawberry.field(description="The channel's own id for the shop, as its order payloads name it.")
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="When credentials were last set; null until they are.")
    def credentials_set_at(self) -> datetime | None:
        return self.row.credentials_set_at

    @strawberry.field(description="Tells two sets of credentials apart without revealing either.")
    def credentials_fingerprint(self) -> str | None:
        return self.row.credentials_fingerprint

    @strawberry.field(description="When the channel refused the credentials; calls wait until new ones are set.")
    def credentials_refused_at(self) -> datetime | None:
        return self.row.credentials_refused_at

    @strawberry.field(description="The channel's code and message when it refused them.")
    def credentials_refusal(self) -> str | None:
        return self.row.credentials_refusal


@strawberry.type(description="Admin: where the shop's channel pull stands (orderhub pulls its orders itself).")
class ShopPullState:
    enabled: bool
    checkpoint: datetime | None = strawberry.field(description="Every change before it is in.")
    last_run_at: datetime | None
    last_outcome: str | None = strawberry.field(description="CAUGHT_UP, RATE_LIMITED, REPEATED_PAGE, ...")
    last_note: str | None = strawberry.field(description="The channel's code and message, back-offs, clamps.")
    pages: int
    orders: int

    @classmethod
    def of(cls, row: ShopPullRow) -> ShopPullState:
        return cls(
            enabled=row.enabled, checkpoint=row.checkpoint, last_run_at=row.last_run_at,
            last_outcome=row.last_outcome, last_note=last_note_of(row), pages=row.pages, orders=row.orders,
        )  # fmt: skip
