"""Checking a draft of a channel's cleaning rules without saving it: operations tries a rule against every accepted
sample the way saving would, and an administrator saves what passes."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.intake.mutations import staff_name
from api.graphql.intake.types import IntakeUserError, SaveCleaningRulesInput, user_errors
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.channels.service import save_rules
from domain.errors import UserError


@strawberry.type
class CheckCleaningRulesPayload:
    would_be_version: int | None = strawberry.field(description="The version saving would make; null when refused.")
    user_errors: list[IntakeUserError]


@strawberry.type
class RuleCheckMutations:
    @strawberry.mutation(
        description="Check a draft of a channel's cleaning rules exactly as saveCleaningRules would (the rules' "
        "shape, every accepted sample still mapping), and save nothing.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def check_cleaning_rules(
        self, info: Info[Context, None], input: SaveCleaningRulesInput
    ) -> CheckCleaningRulesPayload:
        ctx = info.context
        try:
            async with ctx.read() as session:  # never committed: the version saving would make is rolled back
                row = await save_rules(
                    session, ctx.runtime.core.vault, input.channel.value, input.rules, input.note, staff_name(info)
                )
                version = row.version
                await session.rollback()
        except UserError as error:
            return CheckCleaningRulesPayload(would_be_version=None, user_errors=user_errors(error.problems))
        return CheckCleaningRulesPayload(would_be_version=version, user_errors=[])
