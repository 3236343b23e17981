"""Admin: registering a shop and setting its credentials. New credentials resume the confirmations that waited."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.ids import decode_gid
from api.graphql.orders import SalesChannel
from api.graphql.shops.types import ADMIN, Shop, ShopErrorCode, ShopPullState, ShopUserError
from domain.confirmations.service import resume_shop
from domain.errors import Problem, UserError
from domain.outbox.service import Outbox
from domain.shops.credentials import Credentials
from domain.shops.service import create_shop, set_credentials, set_pull


def _errors(problems: list[Problem]) -> list[ShopUserError]:
    return user_errors(ShopUserError, ShopErrorCode, problems)


@strawberry.input
class CreateShopInput:
    channel: SalesChannel  # type: ignore[valid-type]
    code: str = strawberry.field(description="The channel's id for the shop: Taobao seller_nick, Douyin shop_id, ...")
    name: str


@strawberry.type
class CreateShopPayload:
    shop: Shop | None
    user_errors: list[ShopUserError]


@strawberry.input(description="Write-only: replaced whole, sealed at rest, never returned.")
class SetShopCredentialsInput:
    shop_id: strawberry.ID
    app_key: str = ""
    app_secret: str = ""
    access_token: str = ""
    refresh_token: str = ""
    seller_id: str = ""
    marketplace_id: str = ""


@strawberry.type
class SetShopCredentialsPayload:
    shop: Shop | None
    resumed_confirmations: int
    user_errors: list[ShopUserError]


@strawberry.input
class SetShopPullInput:
    shop_id: strawberry.ID
    enabled: bool | None = strawberry.field(default=None, description="Null: leave the schedule as it is.")


@strawberry.type
class SetShopPullPayload:
    pull: ShopPullState | None
    queued: bool = strawberry.field(description="A pull of the shop was queued to run now.")
    user_errors: list[ShopUserError]


@strawberry.type
class ShopMutations:
    @strawberry.mutation(description="Admin: register a shop of a channel.", extensions=ADMIN)
    async def create_shop(self, info: Info[Context, None], input: CreateShopInput) -> CreateShopPayload:
        try:
            async with info.context.unit_of_work() as session:
                row = await create_shop(session, str(input.channel), input.code, input.name)
        except UserError as error:
            return CreateShopPayload(shop=None, user_errors=_errors(error.problems))
        return CreateShopPayload(shop=Shop.of(row), user_errors=[])

    @strawberry.mutation(
        description="Admin: set a shop's credentials. Clears a refusal; confirmations that waited for new "
        "credentials are sent again.",
        extensions=ADMIN,
    )
    async def set_shop_credentials(
        self, info: Info[Context, None], input: SetShopCredentialsInput
    ) -> SetShopCredentialsPayload:
        _, key = decode_gid(input.shop_id, "Shop")
        given = Credentials(
            app_key=input.app_key, app_secret=input.app_secret, access_token=input.access_token,
            refresh_token=input.refresh_token, seller_id=input.seller_id, marketplace_id=input.marketplace_id,
        )  # fmt: skip
        try:
            async with info.context.unit_of_work() as session:
                row = await set_credentials(
                    session, info.context.runtime.core.vault, key, given, info.context.staff_actor
                )
                resumed = await resume_shop(session, Outbox(), key)
        except UserError as error:
            return SetShopCredentialsPayload(shop=None, resumed_confirmations=0, user_errors=_errors(error.problems))
        return SetShopCredentialsPayload(shop=Shop.of(row), resumed_confirmations=resumed, user_errors=[])

    @strawberry.mutation(
        description="Admin: turn a shop's channel pull (every 5 minutes) on or off; when on, also pull it now.",
        extensions=ADMIN,
    )
    async def set_shop_pull(self, info: Info[Context, None], input: SetShopPullInput) -> SetShopPullPayload:
        _, key = decode_gid(input.shop_id, "Shop")
        try:
            async with info.context.unit_of_work() as session:
                row = await set_pull(session, Outbox(), key, input.enabled)
        except UserError as error:
            return SetShopPullPayload(pull=None, queued=False, user_errors=_errors(error.problems))
        return SetShopPullPayload(pull=ShopPullState.of(row), queued=row.enabled, user_errors=[])
