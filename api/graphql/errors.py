"""Translate domain problems into `userErrors` entries."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from domain.errors import Problem

E = TypeVar("E", bound=Enum)


def field_path(prefix: tuple[str, ...], problem: Problem) -> list[str]:
    return [*prefix, *(str(part) for part in problem.field)]


def code_of(enum: type[E], code: str, fallback: E) -> E:
    try:
        return enum[code]
    except KeyError:
        return fallback
