"""Why a fulfilment request, a piece of evidence, an exception or a shipped-rule change is refused: the
codes `FulfilmentUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class FulfilmentErrorCode(ErrorCode):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    TOO_MANY = "TOO_MANY"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_TIME = "INVALID_TIME"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    ONE_OF = "ONE_OF"
    NOT_FOUND = "NOT_FOUND"
    AMBIGUOUS_ORDER = "AMBIGUOUS_ORDER"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    SOURCE_NOT_ALLOWED = "SOURCE_NOT_ALLOWED"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    CLOCK_SKEW = "CLOCK_SKEW"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_ALLOWED = "NOT_ALLOWED"
    INVALID = "INVALID"
