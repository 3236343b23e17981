"""Access administration, read: partner keys and staff accounts (admins), the admin log (staff)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor
from api.graphql.node import visible_row
from api.graphql.pagination import Connection, check_page_size, connection, id_connection
from api.graphql.permissions import may
from api.graphql.staff.types import ADMIN, STAFF, AdminLogEntry, PartnerKey, StaffAccount
from domain.access import audit, service
from domain.access.models import AdminLogEntry as LogRow
from domain.access.models import StaffUser
from domain.access.policy import Role

ADMINS = {"roles": frozenset({Role.ADMIN})}


async def load_partner_key(info: Info[Context, None], key: int) -> PartnerKey | None:
    if not may(info, **ADMINS):
        return None
    async with info.context.read() as session:
        found = await service.key_listing(session, key)
    return None if found is None else PartnerKey.of(found)


async def load_staff_account(info: Info[Context, None], key: int) -> StaffAccount | None:
    row = await visible_row(info, StaffUser, key, **ADMINS)
    return None if row is None else StaffAccount.of(row)


async def load_admin_log_entry(info: Info[Context, None], key: int) -> AdminLogEntry | None:
    row = await visible_row(info, LogRow, key, any_staff=True)
    return None if row is None else AdminLogEntry.of(row)


@strawberry.type
class AccessQueries:
    @strawberry.field(
        description="Admin only: partner keys, oldest first; revoked ones only with `includeRevoked`.", extensions=ADMIN
    )
    async def partner_keys(
        self, info: Info[Context, None], first: int, after: str | None = None, include_revoked: bool = False
    ) -> Connection[PartnerKey]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "partner_key")
        async with info.context.read() as session:
            rows, more = await service.partner_keys(session, first, after_id, include_revoked=include_revoked)
        return connection(
            [PartnerKey.of(r) for r in rows],
            [encode_cursor("partner_key", r.row.id) for r in rows if r.row.id is not None],
            more,
            after_id is not None,
        )

    @strawberry.field(description="Staff: the signed-in account (its roles and language).", extensions=STAFF)
    async def me(self, info: Info[Context, None]) -> StaffAccount | None:
        principal = info.context.principal
        assert isinstance(principal, Staff)
        async with info.context.read() as session:
            row = await service.active_staff(session, principal.user_id)
        return None if row is None else StaffAccount.of(row)

    @strawberry.field(description="Admin only: staff accounts, oldest first, disabled ones too.", extensions=ADMIN)
    async def staff_accounts(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[StaffAccount]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "staff")
        async with info.context.read() as session:
            rows, more = await service.staff_accounts(session, first, after_id)
        return id_connection([StaffAccount.of(r) for r in rows], rows, "staff", more, after_id is not None)

    @strawberry.field(
        description="Staff: every change of partner keys, staff accounts and alert robots, newest first, with who "
        "made it.",
        extensions=STAFF,
    )
    async def admin_log(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[AdminLogEntry]:
        check_page_size(first, None)
        before_id = decode_cursor(after, "admin_log")
        async with info.context.read() as session:
            rows, more = await audit.entries(session, first, before_id)
        return id_connection([AdminLogEntry.of(r) for r in rows], rows, "admin_log", more, before_id is not None)
