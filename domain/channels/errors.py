"""Why a channel payload or an intake setting (cleaning rules, schema baselines, replays) is refused: the
codes `IntakeUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class IntakeErrorCode(ErrorCode):
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    TOO_LARGE = "TOO_LARGE"
    NOT_JSON = "NOT_JSON"
    WRONG_SHAPE = "WRONG_SHAPE"
    UNKNOWN_STATUS = "UNKNOWN_STATUS"
    REQUIRED = "REQUIRED"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    ORDER_LOCKED = "ORDER_LOCKED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    INVALID_RULE = "INVALID_RULE"
    BREAKS_MAPPING = "BREAKS_MAPPING"
    NO_BASELINE = "NO_BASELINE"
    INVALID = "INVALID"
