"""Relay connections: every list is one, `first`/`last` required and capped."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

import strawberry
from graphql import GraphQLError

from api.graphql.ids import encode_cursor
from domain.i18n import tr

MAX_PAGE = 100

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def check_page_size(first: int | None, last: int | None) -> None:
    if (first is None) == (last is None):
        raise GraphQLError(tr("give exactly one of `first` or `last`"), extensions={"code": "BAD_USER_INPUT"})
    size = first if first is not None else last
    assert size is not None
    if not 1 <= size <= MAX_PAGE:
        raise GraphQLError(
            tr("page size must be between 1 and {limit}", limit=MAX_PAGE), extensions={"code": "BAD_USER_INPUT"}
        )


def connection(nodes: list[T], cursors: list[str], has_next: bool, has_previous: bool) -> Connection[T]:
    edges = [Edge(node=node, cursor=cursor) for node, cursor in zip(nodes, cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
    )


class Keyed(Protocol):
    @property
    def id(self) -> int | None: ...


def id_connection(nodes: list[T], rows: list[Keyed], kind: str, has_next: bool, has_previous: bool) -> Connection[T]:
    """A page kept in id order: each node's cursor is its row's id."""
    return connection(nodes, [encode_cursor(kind, r.id) for r in rows if r.id is not None], has_next, has_previous)
