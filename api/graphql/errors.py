"""Translate domain problems into `userErrors` entries: the one place where a domain code becomes a member of an
area's GraphQL enum and a domain field name its GraphQL spelling.

Each area's GraphQL code enum is its domain enum (domain/<area>/errors.py) exposed as is. A problem raised by a
rule the area shares with another (a time, a text column, an amount) carries a code of the same name, which maps
by value; a code the area does not list is reported as INVALID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from typing import TypeVar

from domain.errors import Problem
from domain.i18n import render
from runtime import metrics

E = TypeVar("E", bound=Enum)
U = TypeVar("U")

GRAPHQL_NAMES = {"currency": "currencyCode"}
"""Domain field names whose GraphQL input field is named otherwise than by camelCase alone."""

VERBATIM_AFTER = "payload"
"""Below a payload the path names the sender's own keys (`shop_order_detail`), which stay as the sender spells them."""


def graphql_name(name: str) -> str:
    """`channel_order_id` -> `channelOrderId`; a name without underscores is already spelled the GraphQL way."""
    if name in GRAPHQL_NAMES:
        return GRAPHQL_NAMES[name]
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def field_path(prefix: tuple[str, ...], problem: Problem) -> list[str]:
    """The GraphQL path of the field at fault: the argument's path, then the domain's, list positions as strings."""
    path: list[str] = []
    verbatim = False
    for part in (*prefix, *problem.field):
        if isinstance(part, int):
            path.append(str(part))
            continue
        path.append(part if verbatim else graphql_name(part))
        verbatim = verbatim or part == VERBATIM_AFTER
    return path


def area_code(codes: type[E], code: str) -> E:
    """The area's member of the same name, or INVALID when the area does not list it (every area lists INVALID)."""
    try:
        return codes[str(code)]
    except KeyError:
        return codes["INVALID"]


def user_errors(
    entry: Callable[..., U], codes: type[E], problems: Iterable[Problem], prefix: tuple[str, ...] = ("input",)
) -> list[U]:
    """One `userErrors` entry per problem, in the area's entry type (its `field`, `message` and `code`)."""
    entries = [(p, area_code(codes, p.code)) for p in problems]
    if metrics.enabled():
        for _, code in entries:
            metrics.GRAPHQL_ERRORS.labels(code.name).inc()
    return [entry(field=field_path(prefix, p), message=render(p.message), code=code) for p, code in entries]


def summary(problems: Iterable[Problem]) -> str:
    """The problems as one line, in GraphQL spelling: what a rejected message is recorded with, as its sender
    would read it (the domain's own `str(UserError)` names fields the domain's way)."""
    return "; ".join(f"{'.'.join(field_path((), p))}: {p.message} ({p.code})" for p in problems)
