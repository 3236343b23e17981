"""What a customer app does about offline pushes: register and unregister the device, opt out or back in."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.auth.principal import Customer
from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.push.types import CUSTOMERS, DevicePlatform, PushDevice, PushError, PushErrorCode
from domain.errors import UserError
from domain.push.service import register_device, set_opt_out, unregister_device


def _buyer(info: Info[Context, None]) -> str:
    principal = info.context.principal
    assert isinstance(principal, Customer)
    return principal.buyer_uid


def _errors(error: UserError) -> list[PushError]:
    return user_errors(PushError, PushErrorCode, error.problems)


@strawberry.input
class RegisterDeviceInput:
    platform: DevicePlatform  # type: ignore[valid-type]
    registration_id: str = strawberry.field(description="JPush's registration id of the app on this device.")


@strawberry.type
class RegisterDevicePayload:
    device: PushDevice | None
    user_errors: list[PushError]


@strawberry.input
class UnregisterDeviceInput:
    registration_id: str


@strawberry.type
class UnregisterDevicePayload:
    registration_id: str | None
    user_errors: list[PushError]


@strawberry.input
class SetPushOptOutInput:
    opted_out: bool = strawberry.field(description="True: no offline pushes to any of the buyer's devices.")


@strawberry.type
class SetPushOptOutPayload:
    opted_out: bool
    user_errors: list[PushError]


@strawberry.type
class PushMutations:
    @strawberry.mutation(
        description="Customer: pushes about the buyer's orders (packed, shipped, delivered, a moved predicted "
        "time) go to this device, also while the app is closed. A device registered by another buyer moves to "
        "this one.",
        extensions=CUSTOMERS,
    )
    async def register_device(self, info: Info[Context, None], input: RegisterDeviceInput) -> RegisterDevicePayload:
        try:
            async with info.context.unit_of_work() as session:
                row = await register_device(session, _buyer(info), input.platform.value, input.registration_id)
        except UserError as error:
            return RegisterDevicePayload(device=None, user_errors=_errors(error))
        return RegisterDevicePayload(device=PushDevice(row=row), user_errors=[])

    @strawberry.mutation(description="Customer: this device gets no more pushes.", extensions=CUSTOMERS)
    async def unregister_device(
        self, info: Info[Context, None], input: UnregisterDeviceInput
    ) -> UnregisterDevicePayload:
        try:
            async with info.context.unit_of_work() as session:
                await unregister_device(session, _buyer(info), input.registration_id)
        except UserError as error:
            return UnregisterDevicePayload(registration_id=None, user_errors=_errors(error))
        return UnregisterDevicePayload(registration_id=input.registration_id, user_errors=[])

    @strawberry.mutation(
        description="Customer: opt out of offline pushes (or back in). Pushes held for quiet hours are not sent "
        "after an opt-out.",
        extensions=CUSTOMERS,
    )
    async def set_push_opt_out(self, info: Info[Context, None], input: SetPushOptOutInput) -> SetPushOptOutPayload:
        async with info.context.unit_of_work() as session:
            preference = await set_opt_out(session, _buyer(info), input.opted_out)
        return SetPushOptOutPayload(opted_out=preference.opted_out, user_errors=[])
