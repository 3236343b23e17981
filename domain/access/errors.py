"""Why a staff account request is refused: signing in (the codes `StaffLoginError` reports) and managing
accounts from the command line."""

from domain.errors import ErrorCode


class StaffLoginErrorCode(ErrorCode):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"


class AccessErrorCode(ErrorCode):
    NOT_FOUND = "NOT_FOUND"
