"""What staff decide about buyer identity: splitting a wrong group, accepting or rejecting a suggestion."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.identity.types import STAFF, IdentityErrorCode, IdentityUserError, MatchSuggestion
from api.graphql.ids import decode_gid
from api.graphql.orders import Order, load_order
from domain.errors import Problem, UserError
from domain.identity.grouping import split_group
from domain.identity.service import decide_suggestion
from domain.outbox.service import Outbox


def _errors(problems: list[Problem]) -> list[IdentityUserError]:
    return user_errors(IdentityUserError, IdentityErrorCode, problems)


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


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Staff: undo a group of duplicates; refused once the group is paid.", extensions=STAFF
    )
    async def split_group(self, info: Info[Context, None], input: SplitGroupInput) -> SplitGroupPayload:
        _, key = decode_gid(input.parent_order_id, "Order")
        try:
            async with info.context.unit_of_work() as session:
                children = await split_group(session, Outbox(), key, info.context.staff_actor)
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
                row = await decide_suggestion(session, key, input.confirm, info.context.staff_actor)
        except UserError as error:
            return DecideMatchSuggestionPayload(suggestion=None, user_errors=_errors(error.problems))
        return DecideMatchSuggestionPayload(suggestion=MatchSuggestion.of(row), user_errors=[])
