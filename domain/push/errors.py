"""Why a buyer's device registration or push preference is refused."""

from domain.errors import ErrorCode


class PushErrorCode(ErrorCode):
    INVALID = "INVALID"
    UNKNOWN_PLATFORM = "UNKNOWN_PLATFORM"
    INVALID_REGISTRATION_ID = "INVALID_REGISTRATION_ID"
    NOT_FOUND = "NOT_FOUND"
