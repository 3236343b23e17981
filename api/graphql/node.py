"""The Node interface every object with a global id implements, and the lookup node(id:) uses per type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlmodel import SQLModel
from strawberry.types import Info

from api.graphql.permissions import may


@strawberry.interface(description="An object with a global id (gid://orderhub/Type/key).")
class Node:
    id: strawberry.ID


NodeLoader = Callable[[Info[Any, None], int], Awaitable[Node | None]]
"""Resolves one key of one type for node(id:), null for whoever may not see it."""

M = TypeVar("M", bound=SQLModel)


async def visible_row(info: Info[Any, None], model: type[M], key: int, **rule: Any) -> M | None:
    """The row, if the caller passes the same rule as the field that lists it (see permissions.allow)."""
    if not may(info, **rule):
        return None
    async with info.context.read() as session:
        return await session.get(model, key)
