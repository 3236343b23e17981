"""Why a ledger or reconciliation request is refused: the codes `MoneyUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class MoneyErrorCode(ErrorCode):
    NOT_FOUND = "NOT_FOUND"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    NOT_REVERSIBLE = "NOT_REVERSIBLE"
    NOT_CONFIRMED = "NOT_CONFIRMED"
    NOT_IN_SUSPENSE = "NOT_IN_SUSPENSE"
    REASON_REQUIRED = "REASON_REQUIRED"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    NOTE_REQUIRED = "NOTE_REQUIRED"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    TOO_LONG = "TOO_LONG"
    NOTHING_TO_REVERSE = "NOTHING_TO_REVERSE"
    INVALID_STATEMENT = "INVALID_STATEMENT"
    ALREADY_RECONCILING = "ALREADY_RECONCILING"
    UNKNOWN_ENCODING = "UNKNOWN_ENCODING"
    INVALID = "INVALID"
