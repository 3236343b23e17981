"""Why a health request is refused: the codes `HealthUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class HealthErrorCode(ErrorCode):
    UNKNOWN_METRIC = "UNKNOWN_METRIC"
    UNKNOWN_PERIOD = "UNKNOWN_PERIOD"
    UNKNOWN_DIMENSION = "UNKNOWN_DIMENSION"
    INVERTED_RANGE = "INVERTED_RANGE"
    PERIOD_TOO_LONG = "PERIOD_TOO_LONG"
    INVALID_TIME = "INVALID_TIME"
    REQUIRED = "REQUIRED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNCHANGED = "UNCHANGED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_VALUE = "INVALID_VALUE"
    TOO_LONG = "TOO_LONG"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    AMBIGUOUS_ORDER = "AMBIGUOUS_ORDER"
    ROBOT_NOT_CONFIGURED = "ROBOT_NOT_CONFIGURED"
    WEBHOOK_NOT_HTTPS = "WEBHOOK_NOT_HTTPS"
    WEBHOOK_WRONG_HOST = "WEBHOOK_WRONG_HOST"
    INVALID_WEBHOOK = "INVALID_WEBHOOK"
    SECRET_NOT_ACCEPTED = "SECRET_NOT_ACCEPTED"
    INVALID = "INVALID"


class ExportErrorCode(ErrorCode):
    """Why an order export (HTTP or the command line) is refused."""

    INVERTED_PERIOD = "INVERTED_PERIOD"
    PERIOD_TOO_LONG = "PERIOD_TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNKNOWN_FORMAT = "UNKNOWN_FORMAT"
    INVALID_TIME = "INVALID_TIME"
