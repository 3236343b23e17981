"""A buyer's devices and push preference, and why a registration was refused."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.permissions import allow
from domain.push import errors
from domain.push.models import Platform
from domain.push.models import PushDevice as DeviceRow

PushErrorCode = strawberry.enum(errors.PushErrorCode)
DevicePlatform = strawberry.enum(Platform, name="DevicePlatform")

CUSTOMERS = allow(customers=True)


@strawberry.type
class PushError:
    field: list[str] | None
    message: str
    code: PushErrorCode  # type: ignore[valid-type]


@strawberry.type(description="One of the signed-in buyer's devices that receive offline pushes.")
class PushDevice:
    row: strawberry.Private[DeviceRow]

    @strawberry.field
    def platform(self) -> DevicePlatform:  # type: ignore[valid-type]
        return Platform(self.row.platform)

    @strawberry.field(description="The JPush registration id the app reported.")
    def registration_id(self) -> str:
        return self.row.registration_id

    @strawberry.field
    def registered_at(self) -> datetime:
        return self.row.registered_at
