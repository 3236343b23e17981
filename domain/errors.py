"""The one way a domain rule refuses a request: a UserError naming the field at fault, with a code.

A problem names fields by the domain's own names (`channel_order_id`, list positions as ints); the API spells
them its own way. Its code is a member of an area's `ErrorCode` subclass, kept in that area's errors module
(domain/<area>/errors.py), which is the list the API publishes for the area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.clock import as_utc
from domain.i18n import Message, msg, render


class ErrorCode(StrEnum):
    """The base of every area's codes. A code means the same in every area that lists it, and codes of the
    same name compare equal, so a problem raised by a rule one area shares with another maps by value."""


class CommonCode(ErrorCode):
    """Raised by the rules every area shares: times, stored text and money amounts."""

    INVALID_TIME = "INVALID_TIME"
    TOO_LONG = "TOO_LONG"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"


@dataclass(frozen=True)
class Problem:
    field: tuple[str | int, ...]
    message: Message  # a sentence of ours, rendered in the reader's language when it is read
    code: ErrorCode


@dataclass
class UserError(Exception):
    """Raised by services; the boundary rolls back the unit of work and reports every problem."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def one(cls, path: tuple[str | int, ...], message: Message, code: ErrorCode) -> UserError:
        return cls([Problem(path, message, code)])

    def __str__(self) -> str:
        return "; ".join(f"{'.'.join(map(str, p.field))}: {p.message} ({p.code})" for p in self.problems)

    def worded(self) -> str:
        """The problems for a person reading them now, each sentence in the language in use; `str()` stays the
        English that stored outcomes and senders read."""
        return "; ".join(f"{'.'.join(map(str, p.field))}: {render(p.message)} ({p.code})" for p in self.problems)


class Problems:
    """Collects problems while validating a whole input, so that the caller sees all of them at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: tuple[str | int, ...], message: Message, code: ErrorCode) -> None:
        self.items.append(Problem(path, message, code))

    def aware_time(self, moment: datetime | None, at: tuple[str | int, ...]) -> datetime | None:
        """A time without a UTC offset is refused, not guessed: partners sit in several time zones."""
        if moment is None:
            return None
        try:
            return as_utc(moment)
        except ValueError:
            self.add(at, msg("time needs a UTC offset"), CommonCode.INVALID_TIME)
        except OverflowError:  # 9999-12-31T23:00-08:00 is past the last moment in UTC
            self.add(at, msg("time out of range"), CommonCode.INVALID_TIME)
        return None

    def raise_if_any(self) -> None:
        if self.items:
            raise UserError(list(self.items))
