"""Staff sign-in and access administration: partner keys, staff accounts and the admin log."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.graphql.ids import encode_gid
from api.graphql.node import Node
from api.graphql.orders import SalesChannel
from api.graphql.permissions import allow
from domain.access import errors
from domain.access.audit import AdminAction
from domain.access.models import AdminLogEntry as LogRow
from domain.access.models import PartnerKey as KeyRow
from domain.access.models import StaffUser
from domain.access.policy import Role, Scope
from domain.access.service import KEY_PREFIX, KeyListing
from domain.orders.channels import Channel

StaffLoginErrorCode = strawberry.enum(errors.StaffLoginErrorCode)
AccessErrorCode = strawberry.enum(errors.AccessErrorCode)
PartnerScope = strawberry.enum(Scope, name="PartnerScope")
StaffRole = strawberry.enum(Role, name="StaffRole")
AdminActionEnum = strawberry.enum(AdminAction, name="AdminAction")

ADMIN = allow(roles=frozenset({Role.ADMIN}))
STAFF = allow(any_staff=True)


@strawberry.type
class StaffLoginError:
    field: list[str] | None
    message: str
    code: StaffLoginErrorCode  # type: ignore[valid-type]


@strawberry.type
class AccessError:
    field: list[str] | None
    message: str
    code: AccessErrorCode  # type: ignore[valid-type]


@strawberry.type(description="Admin only: a partner's API key as stored. The secret is shown once, when issued.")
class PartnerKey(Node):
    row: strawberry.Private[KeyRow]
    used_at: strawberry.Private[datetime | None]

    @classmethod
    def of(cls, listing: KeyListing) -> PartnerKey:
        assert listing.row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("PartnerKey", listing.row.id)), row=listing.row, used_at=listing.last_used_at
        )

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="What every key starts with.")
    def prefix(self) -> str:
        return KEY_PREFIX

    @strawberry.field(description="The key's last four characters, to tell keys apart.")
    def last4(self) -> str:
        return self.row.last4

    @strawberry.field
    def scopes(self) -> list[PartnerScope]:  # type: ignore[valid-type]
        return [Scope(s) for s in self.row.scopes]

    @strawberry.field(description="The sales channels the key serves; null: every channel.")
    def channels(self) -> list[SalesChannel] | None:  # type: ignore[valid-type]
        return None if self.row.channels is None else [Channel(c) for c in self.row.channels]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When the key stopped (or, rotated with an overlap, stops) working.")
    def revoked_at(self) -> datetime | None:
        return self.row.revoked_at

    @strawberry.field(description="When the key's latest request was recorded; null if never used.")
    def last_used_at(self) -> datetime | None:
        return self.used_at


@strawberry.type(description="Admin only: a staff account. Its password is never shown.")
class StaffAccount(Node):
    row: strawberry.Private[StaffUser]

    @classmethod
    def of(cls, row: StaffUser) -> StaffAccount:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("StaffAccount", row.id)), row=row)

    @strawberry.field
    def email(self) -> str:
        return self.row.email

    @strawberry.field
    def roles(self) -> list[StaffRole]:  # type: ignore[valid-type]
        return [Role(r) for r in self.row.roles]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def disabled_at(self) -> datetime | None:
        return self.row.disabled_at

    @strawberry.field(description="The account's own language; null: each request's Accept-Language decides.")
    def language(self) -> Language | None:
        return None if self.row.language is None else Language(self.row.language)


@strawberry.enum(description="A language orderhub speaks to people in (BCP 47 tag as the value).")
class Language(Enum):
    ZH_CN = "zh-CN"
    EN = "en"


@strawberry.type(description="Staff: one change of a partner key, a staff account or an alert robot, and who made it.")
class AdminLogEntry(Node):
    row: strawberry.Private[LogRow]

    @classmethod
    def of(cls, row: LogRow) -> AdminLogEntry:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("AdminLogEntry", row.id)), row=row)

    @strawberry.field
    def at(self) -> datetime:
        return self.row.at

    @strawberry.field(description="`staff:<email>` for a change made through the API, `cli:<user>` on the server.")
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field
    def action(self) -> AdminActionEnum:  # type: ignore[valid-type]
        return AdminAction(self.row.action)

    @strawberry.field(description="`partner_key:<id>`, `staff:<email>` or `alert_robot:<DINGTALK|WECOM>`.")
    def target(self) -> str:
        return self.row.target

    @strawberry.field(description="What changed; never a secret.")
    def details(self) -> JSON:
        return self.row.details
