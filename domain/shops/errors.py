"""Why a shop or its credentials are refused: the codes `ShopUserError` reports."""

from domain.errors import ErrorCode


class ShopErrorCode(ErrorCode):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
