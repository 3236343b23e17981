"""Why a staff sign-in was refused."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class StaffLoginErrorCode(Enum):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"


@strawberry.type
class StaffLoginError:
    field: list[str] | None
    message: str
    code: StaffLoginErrorCode
