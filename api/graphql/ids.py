"""Opaque global ids (gid://orderhub/Type/key). Decoding checks the type, so an id of one kind
can never look up a row of another."""

from __future__ import annotations

import base64

from graphql import GraphQLError

from domain.i18n import tr

_PREFIX = "gid://orderhub/"


def encode_gid(type_name: str, key: int) -> str:
    return f"{_PREFIX}{type_name}/{key}"


def decode_gid(gid: str, expected: str | None = None) -> tuple[str, int]:
    if not gid.startswith(_PREFIX):
        raise GraphQLError(tr("{gid} is not an orderhub id", gid=repr(gid)), extensions={"code": "INVALID_ID"})
    type_name, _, key = gid[len(_PREFIX) :].partition("/")
    if not (key.isascii() and key.isdigit()):
        raise GraphQLError(tr("{gid} is not an orderhub id", gid=repr(gid)), extensions={"code": "INVALID_ID"})
    if expected is not None and type_name != expected:
        raise GraphQLError(
            tr(
                "{gid} is a {type_name} id, expected a {expected} id",
                gid=repr(gid),
                type_name=type_name,
                expected=expected,
            ),
            extensions={"code": "INVALID_ID"},
        )
    return type_name, int(key)


def encode_cursor(kind: str, key: int | str) -> str:
    """A keyset cursor: an id, or a text key (a warehouse code) for lists that have no integer key."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_text_cursor(cursor: str | None, kind: str) -> str | None:
    if cursor is None:
        return None
    try:
        prefix, colon, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphQLError(tr("invalid cursor"), extensions={"code": "INVALID_CURSOR"}) from exc
    if prefix != kind or not colon:
        raise GraphQLError(tr("invalid cursor"), extensions={"code": "INVALID_CURSOR"})
    return key


def decode_cursor(cursor: str | None, kind: str) -> int | None:
    key = decode_text_cursor(cursor, kind)
    if key is None:
        return None
    if not (key.isascii() and key.isdigit()):
        raise GraphQLError(tr("invalid cursor"), extensions={"code": "INVALID_CURSOR"})
    return int(key)
