"""Staff sign-in (an email and password for a short-lived staff token) and access administration: partner
keys and staff accounts, each change in the admin log (domain/access)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.auth.principal import Staff, accounts_of
from api.auth.throttle import LoginThrottle
from api.auth.tokens import issue_staff_token
from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.ids import decode_gid
from api.graphql.orders import SalesChannel
from api.graphql.staff.types import (
    ADMIN,
    STAFF,
    AccessError,
    AccessErrorCode,
    Language,
    PartnerKey,
    PartnerScope,
    StaffAccount,
    StaffLoginError,
    StaffLoginErrorCode,
    StaffRole,
)
from domain.access.service import (
    IssuedKey,
    KeyListing,
    create_staff,
    disable_staff,
    issue_partner_key,
    key_listing,
    revoke_partner_key,
    rotate_partner_key,
    set_staff_language,
    set_staff_roles,
    staff_email,
    verify_staff,
)
from domain.errors import UserError
from domain.i18n import tr
from domain.outbox.service import Outbox


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
                tr("too many failed sign-ins; retry in {wait} s", wait=wait),
                extensions={"code": "THROTTLED", "retryAfterSeconds": wait},
            )
        async with ctx.read() as session:
            user = await verify_staff(session, input.email, input.password)
        if user is None or user.id is None:
            await throttle.failed(account, address)
            error = StaffLoginError(
                field=["input", "password"],
                message=tr("unknown email or wrong password"),
                code=StaffLoginErrorCode.INVALID_CREDENTIALS,
            )
            return StaffLoginPayload(token=None, expires_at=None, roles=[], user_errors=[error])
        settings = ctx.runtime.settings
        issued = issue_staff_token(
            settings.secret("token_secret"), user.id, user.email, user.roles, settings.staff_token_minutes
        )
        return StaffLoginPayload(token=issued.token, expires_at=issued.expires_at, roles=user.roles, user_errors=[])


def _errors(error: UserError) -> list[AccessError]:
    return user_errors(AccessError, AccessErrorCode, error.problems)


@strawberry.input
class CreatePartnerKeyInput:
    name: str
    scopes: list[PartnerScope]  # type: ignore[valid-type]
    channels: list[SalesChannel] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The sales channels the key serves; null: every channel (a WMS, an ERP)."
    )


@strawberry.type
class PartnerKeyPayload:
    partner_key: PartnerKey | None
    key: str | None = strawberry.field(description="The secret key, shown this once; orderhub keeps only its hash.")
    user_errors: list[AccessError]


@strawberry.input
class RotatePartnerKeyInput:
    id: strawberry.ID
    overlap_minutes: int = strawberry.field(default=0, description="How long the old key keeps working (0 to 7 days).")


@strawberry.input
class RevokePartnerKeyInput:
    id: strawberry.ID


@strawberry.input
class CreateStaffAccountInput:
    email: str
    password: str = strawberry.field(description="At least 12 characters.")
    roles: list[StaffRole]  # type: ignore[valid-type]


@strawberry.input
class DisableStaffAccountInput:
    id: strawberry.ID


@strawberry.input
class SetStaffRolesInput:
    id: strawberry.ID
    roles: list[StaffRole]  # type: ignore[valid-type]


@strawberry.type
class StaffAccountPayload:
    staff_account: StaffAccount | None
    user_errors: list[AccessError]


def _key_payload(issued: IssuedKey | None, listing: KeyListing | None) -> PartnerKeyPayload:
    return PartnerKeyPayload(
        partner_key=None if listing is None else PartnerKey.of(listing),
        key=None if issued is None else issued.key,
        user_errors=[],
    )


@strawberry.input
class SetMyLanguageInput:
    language: Language | None = strawberry.field(description="null: let each request's Accept-Language decide.")


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="Staff: the language of the console and of messages for this account.",
                         extensions=STAFF)  # fmt: skip
    async def set_my_language(self, info: Info[Context, None], input: SetMyLanguageInput) -> StaffAccountPayload:
        principal = info.context.principal
        assert isinstance(principal, Staff)
        language = None if input.language is None else input.language.value
        try:
            async with info.context.unit_of_work() as session:
                row = await set_staff_language(session, principal.user_id, language)
        except UserError as error:
            return StaffAccountPayload(staff_account=None, user_errors=_errors(error))
        if info.context.request is not None:
            accounts_of(info.context.request).forget(principal.user_id)
        return StaffAccountPayload(staff_account=StaffAccount.of(row), user_errors=[])

    @strawberry.mutation(
        description="Admin only: issue a partner key; its secret is in this answer only.", extensions=ADMIN
    )
    async def create_partner_key(self, info: Info[Context, None], input: CreatePartnerKeyInput) -> PartnerKeyPayload:
        channels = None if input.channels is None else [c.value for c in input.channels]
        try:
            async with info.context.unit_of_work() as session:
                scopes = [s.value for s in input.scopes]
                issued = await issue_partner_key(session, input.name, scopes, channels, actor=info.context.staff_actor)
                listing = await key_listing(session, issued.id)
        except UserError as error:
            return PartnerKeyPayload(partner_key=None, key=None, user_errors=_errors(error))
        return _key_payload(issued, listing)

    @strawberry.mutation(
        description="Admin only: a new key with the same name, scopes and channels; the old one stops working "
        "after `overlapMinutes` (at once by default).",
        extensions=ADMIN,
    )
    async def rotate_partner_key(self, info: Info[Context, None], input: RotatePartnerKeyInput) -> PartnerKeyPayload:
        _, key = decode_gid(input.id, "PartnerKey")
        try:
            async with info.context.unit_of_work() as session:
                overlap = timedelta(minutes=input.overlap_minutes)
                issued = await rotate_partner_key(session, key, actor=info.context.staff_actor, overlap=overlap)
                listing = await key_listing(session, issued.id)
        except UserError as error:
            return PartnerKeyPayload(partner_key=None, key=None, user_errors=_errors(error))
        return _key_payload(issued, listing)

    @strawberry.mutation(description="Admin only: the key is refused from its next request on.", extensions=ADMIN)
    async def revoke_partner_key(self, info: Info[Context, None], input: RevokePartnerKeyInput) -> PartnerKeyPayload:
        _, key = decode_gid(input.id, "PartnerKey")
        try:
            async with info.context.unit_of_work() as session:
                await revoke_partner_key(session, key, actor=info.context.staff_actor)
                listing = await key_listing(session, key)
        except UserError as error:
            return PartnerKeyPayload(partner_key=None, key=None, user_errors=_errors(error))
        return _key_payload(None, listing)

    @strawberry.mutation(
        description="Admin only: a staff account that can sign in with `staffLogin`.", extensions=ADMIN
    )
    async def create_staff_account(
        self, info: Info[Context, None], input: CreateStaffAccountInput
    ) -> StaffAccountPayload:
        roles = [r.value for r in input.roles]
        try:
            async with info.context.unit_of_work() as session:
                user = await create_staff(session, input.email, input.password, roles, actor=info.context.staff_actor)
        except UserError as error:
            return StaffAccountPayload(staff_account=None, user_errors=_errors(error))
        return StaffAccountPayload(staff_account=StaffAccount.of(user), user_errors=[])

    @strawberry.mutation(
        description="Admin only: the account's tokens stop working and its open websockets close.", extensions=ADMIN
    )
    async def disable_staff_account(
        self, info: Info[Context, None], input: DisableStaffAccountInput
    ) -> StaffAccountPayload:
        _, key = decode_gid(input.id, "StaffAccount")
        try:
            async with info.context.unit_of_work() as session:
                email = await staff_email(session, key)
                user = await disable_staff(session, email, Outbox(), actor=info.context.staff_actor)
        except UserError as error:
            return StaffAccountPayload(staff_account=None, user_errors=_errors(error))
        accounts_of(info.context.request).forget(key)  # type: ignore[arg-type]
        return StaffAccountPayload(staff_account=StaffAccount.of(user), user_errors=[])

    @strawberry.mutation(
        description="Admin only: replace the account's roles; in force from its next request.", extensions=ADMIN
    )
    async def set_staff_roles(self, info: Info[Context, None], input: SetStaffRolesInput) -> StaffAccountPayload:
        _, key = decode_gid(input.id, "StaffAccount")
        roles = [r.value for r in input.roles]
        try:
            async with info.context.unit_of_work() as session:
                email = await staff_email(session, key)
                user = await set_staff_roles(session, email, roles, Outbox(), actor=info.context.staff_actor)
        except UserError as error:
            return StaffAccountPayload(staff_account=None, user_errors=_errors(error))
        accounts_of(info.context.request).forget(key)  # type: ignore[arg-type]
        return StaffAccountPayload(staff_account=StaffAccount.of(user), user_errors=[])
