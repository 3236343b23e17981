"""Staff sign-in: exchanges an email and password for a short-lived staff token."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.auth.throttle import LoginThrottle
from api.auth.tokens import issue_staff_token
from api.graphql.context import Context
from api.graphql.staff.types import StaffLoginError, StaffLoginErrorCode
from domain.access.service import verify_staff


@strawberry.input
class StaffLoginInput:
    email: str
    password: str


@strawberry.type
class StaffLoginPayload:
    token: str | None
    expires_at: datetime | None
    roles: list[str]
    user_errors: list[StaffLoginError]


@strawberry.type
class StaffMutations:
    @strawberry.mutation(
        description="Sign in as staff; the token carries the account's roles. After too many failed attempts "
        "for an account or from an address, refused with a THROTTLED error whose `retryAfterSeconds` "
        "says when to try again."
    )
    async def staff_login(self, info: Info[Context, None], input: StaffLoginInput) -> StaffLoginPayload:
        ctx = info.context
        account = input.email.strip().lower()
        client = ctx.request.client if ctx.request is not None else None
        address = client.host if client is not None else "unknown"
        throttle: LoginThrottle = ctx.request.app.state.login_throttle  # type: ignore[union-attr]
        wait = await throttle.retry_after(account, address)
        if wait is not None:
            raise GraphQLError(
                f"too many failed sign-ins; retry in {wait} s",
                extensions={"code": "THROTTLED", "retryAfterSeconds": wait},
            )
        async with ctx.read() as session:
            user = await verify_staff(session, input.email, input.password)
        if user is None or user.id is None:
            await throttle.failed(account, address)
            error = StaffLoginError(
                field=["input", "password"],
                message="unknown email or wrong password",
                code=StaffLoginErrorCode.INVALID_CREDENTIALS,
            )
            return StaffLoginPayload(token=None, expires_at=None, roles=[], user_errors=[error])
        settings = ctx.runtime.settings
        issued = issue_staff_token(
            settings.secret("token_secret"), user.id, user.email, user.roles, settings.staff_token_minutes
        )
        return StaffLoginPayload(token=issued.token, expires_at=issued.expires_at, roles=user.roles, user_errors=[])
