"""The one engine and session factory of a process, built by the composition root, never at import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import SessionTransaction, SessionTransactionOrigin
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off (it would BEGIN only before the first write, deferred):
    # `_sqlite_begin` opens every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """SQLite has no row locks: a unit that reads an order and then writes it must hold the database's single
    write lock from its start (BEGIN IMMEDIATE), or a concurrent writer's commit makes its write fail with
    "database is locked" instead of waiting its turn (busy_timeout) and then reading what that writer committed.
    Sessions that only read begin deferred (see `_Session`), and so do connections used directly (migrations,
    which must not wait for a running writer when there is nothing to migrate)."""
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


class _Session(Session):
    """A unit of work is written `session.begin()` (only the boundary commits); a session that merely reads begins
    on its first query. The first takes SQLite's write lock at once, the second never waits for it."""


@event.listens_for(_Session, "after_transaction_create")
def _choose_begin(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        explicit = transaction.origin is SessionTransactionOrigin.BEGIN
        session.execution_options = session.execution_options.union(
            {"sqlite_begin": "BEGIN IMMEDIATE" if explicit else "BEGIN"}
        )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, sync_session_class=_Session, expire_on_commit=False)


def migrate(url: str, revision: str = "heads") -> None:
    """Apply alembic migrations: the only way the schema is created or changed."""
    from alembic.config import Config

    from alembic import command

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, revision)


async def migrate_async(url: str, revision: str = "heads") -> None:
    await asyncio.to_thread(migrate, url, revision)
