"""Why a staff sign-in was refused."""

from __future__ import annotations

import strawberry

from domain.access import errors

StaffLoginErrorCode = strawberry.enum(errors.StaffLoginErrorCode)


@strawberry.type
class StaffLoginError:
    field: list[str] | None
    message: str
    code: StaffLoginErrorCode  # type: ignore[valid-type]
