"""Why an identity decision (splitting a group, deciding a suggestion) is refused: the codes
`IdentityUserError` reports.

INVALID is what any other code becomes on its way out (a code raised by a rule this area shares with
another, and that the area does not list)."""

from domain.errors import ErrorCode


class IdentityErrorCode(ErrorCode):
    NOT_A_GROUP = "NOT_A_GROUP"
    GROUP_PAID = "GROUP_PAID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    ALREADY_MATCHED = "ALREADY_MATCHED"
    INVALID = "INVALID"
