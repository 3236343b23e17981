"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None, "sessions come from the factory, which binds them"
    return bind.dialect.name


def _insert_absent(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], conflict_columns: Sequence[str]
) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    return insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict_columns))


async def insert_ignore(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    conflict_columns: Sequence[str],
) -> int | None:
    """Insert unless the natural key exists; returns the new id, or None when it existed.

    Check-then-insert races under concurrency; ON CONFLICT DO NOTHING lets the database decide.
    """
    statement = _insert_absent(session, model, values, conflict_columns).returning(model.__table__.c.id)  # type: ignore[attr-defined]
    row = (await session.execute(statement)).first()
    return None if row is None else int(row[0])


async def insert_absent(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], conflict_columns: Sequence[str]
) -> None:
    """`insert_ignore` for a table keyed by its natural key alone (no id to return)."""
    await session.execute(_insert_absent(session, model, values, conflict_columns))


async def insert_ignore_many(
    session: AsyncSession,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
) -> list[Any]:
    """`insert_ignore` for many rows in one round trip; returns the inserted rows' id and conflict columns
    (a row that met its natural key returns nothing, so callers match by those columns, not by position)."""
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(table.c.id, *(table.c[name] for name in conflict_columns))
    )
    return list((await session.execute(statement, list(rows))).all())


async def take_sqlite_write_lock(session: AsyncSession) -> None:
    """On SQLite, take the single write lock before reading, so a read-then-write job sees what a
    concurrent job committed instead of failing on its write; PostgreSQL callers lock rows instead."""
    if dialect(session) == "sqlite":
        await session.execute(text("UPDATE outbox SET id = id WHERE 0"))


async def insert_or_count_repeat(
    session: AsyncSession,
    model: type[SQLModel],
    values: dict[str, Any],
    conflict_columns: Sequence[str],
) -> tuple[int, bool]:
    """Insert, or count one more `repeats` on the row holding the natural key; returns (id, is_new)."""
    new_id = await insert_ignore(session, model, values, conflict_columns)
    if new_id is not None:
        return new_id, True
    table = model.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(*(table.c[name] == values[name] for name in conflict_columns))
        .values(repeats=table.c.repeats + 1)
        .returning(table.c.id)
    )
    return int((await session.execute(statement)).scalar_one()), False
