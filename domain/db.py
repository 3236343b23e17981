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

from domain.datadir import create_private_file, private_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


def _sqlite_file(url: str) -> None:
    """Creates the database file 0600 (in a 0700 directory) before SQLite would create it world-readable."""
    path = url.split("///", 1)[-1]
    if url.startswith("sqlite") and path and path != ":memory:":
        private_dir(Path(path).parent)
        create_private_file(Path(path))


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        _sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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

    Only units of work (see `_Session`) begin IMMEDIATE here. Anything else (a session that began on its own,
    a connection used directly, migrations) is left to the driver: its reads run outside any transaction, so
    they neither wait for the lock nor hold a stale snapshot, and its first write begins IMMEDIATE."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    if connection.get_execution_options().get("sqlite_begin", "ON_FIRST_WRITE") == "ON_FIRST_WRITE":
        if driver.isolation_level != "IMMEDIATE":
            driver.isolation_level = "IMMEDIATE"
        return
    if driver.isolation_level is not None:
        driver.isolation_level = None
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class _Session(Session):
    """A unit of work is written `session.begin()` (only the boundary commits); a session that merely reads begins
    on its first query. The first takes SQLite's write lock at once, the second only if it writes."""


@event.listens_for(_Session, "after_transaction_create")
def _choose_begin(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        explicit = transaction.origin is SessionTransactionOrigin.BEGIN
        session.execution_options = session.execution_options.union(
            {"sqlite_begin": "IMMEDIATE" if explicit else "ON_FIRST_WRITE"}
        )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, sync_session_class=_Session, expire_on_commit=False)


def migrate(url: str, revision: str = "heads") -> None:
    """Apply alembic migrations: the only way the schema is created or changed."""
    from alembic.config import Config

    from alembic import command

    _sqlite_file(url)
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, revision)


async def migrate_async(url: str, revision: str = "heads") -> None:
    await asyncio.to_thread(migrate, url, revision)
