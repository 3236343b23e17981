"""Why an order submission or status change is refused: the codes `OrderUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class OrderErrorCode(ErrorCode):
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    TOO_MANY = "TOO_MANY"
    INVALID_STATUS = "INVALID_STATUS"
    STATUS_NOT_SUBMITTABLE = "STATUS_NOT_SUBMITTABLE"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    INVALID_TIME = "INVALID_TIME"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"
    ORDER_LOCKED = "ORDER_LOCKED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    SOURCE_NOT_ALLOWED = "SOURCE_NOT_ALLOWED"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    INVALID = "INVALID"
