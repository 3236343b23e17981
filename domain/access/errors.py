"""Why a staff account request is refused: signing in (the codes `StaffLoginError` reports) and administering
partner keys and staff accounts (from the API or the command line)."""

from domain.errors import ErrorCode


class StaffLoginErrorCode(ErrorCode):
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"


class AccessErrorCode(ErrorCode):
    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    UNKNOWN_SCOPE = "UNKNOWN_SCOPE"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    ALREADY_REVOKED = "ALREADY_REVOKED"
