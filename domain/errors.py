"""The one way a domain rule refuses a request: a UserError naming the field at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.clock import as_utc


@dataclass(frozen=True)
class Problem:
    field: tuple[str | int, ...]
    message: str
    code: str


@dataclass
class UserError(Exception):
    """Raised by services; the boundary rolls back the unit of work and reports every problem."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def one(cls, path: tuple[str | int, ...], message: str, code: str) -> UserError:
        return cls([Problem(path, message, code)])

    def __str__(self) -> str:
        return "; ".join(f"{'.'.join(map(str, p.field))}: {p.message} ({p.code})" for p in self.problems)


class Problems:
    """Collects problems while validating a whole input, so that the caller sees all of them at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: tuple[str | int, ...], message: str, code: str) -> None:
        self.items.append(Problem(path, message, code))

    def aware_time(self, moment: datetime | None, at: tuple[str | int, ...]) -> datetime | None:
        """A time without a UTC offset is refused, not guessed: partners sit in several time zones."""
        if moment is None:
            return None
        try:
            return as_utc(moment)
        except ValueError:
            self.add(at, "time needs a UTC offset", "INVALID_TIME")
        except OverflowError:  # 9999-12-31T23:00-08:00 is past the last moment in UTC
            self.add(at, "time out of range", "INVALID_TIME")
        return None

    def raise_if_any(self) -> None:
        if self.items:
            raise UserError(list(self.items))
