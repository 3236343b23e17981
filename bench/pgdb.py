"""A throwaway PostgreSQL database per bench run, so figures never depend on (or damage) existing data."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
_CONNECT_TIMEOUT_S = 5


def with_database(url: str, name: str) -> str:
    """The same server and credentials as `url`, pointed at database `name`; query options are kept."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme, path=f"/{name}"))


def sqlalchemy_url(url: str) -> str:
    """The asyncpg dialect URL that orderhub's settings and alembic expect."""
    plain = with_database(url, urlsplit(url).path.lstrip("/"))
    return plain.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin_execute(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=_CONNECT_TIMEOUT_S)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(url, timeout=_CONNECT_TIMEOUT_S)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


@asynccontextmanager
async def temporary_database(admin_url: str, prefix: str = "orderhub_bench") -> AsyncIterator[str]:
    """Yield the plain URL of a new empty database and drop it on exit, even on error or Ctrl-C.

    WITH (FORCE) ends sessions a crashed or still-stopping API server may hold, which would
    otherwise block the drop and leak the database.
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def set_aside(conn: asyncpg.Connection, tables: tuple[str, ...], *, foreign_keys: bool) -> list[str]:
    """Drops the secondary indexes (and, with `foreign_keys`, the foreign keys) of the tables about to be loaded
    and returns the DDL that rebuilds them: one sorted index build and one join per key after the load beat
    millions of per-row checks during it."""
    keys = []
    if foreign_keys:
        keys = await conn.fetch(
            """SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
               WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)""",
            list(tables),
        )
    indexes = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def,
                  c.conname AS constraint_name, i.indrelid::regclass::text AS t
           FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('u', 'p')
           WHERE i.indrelid::regclass::text = ANY($1) AND NOT i.indisprimary""",
        list(tables),
    )
    rebuild = []
    for k in keys:
        await conn.execute(f'ALTER TABLE {k["t"]} DROP CONSTRAINT "{k["conname"]}"')
    for i in indexes:
        if i["constraint_name"]:
            await conn.execute(f'ALTER TABLE {i["t"]} DROP CONSTRAINT "{i["constraint_name"]}"')
            columns = i["def"].split(" USING btree ", 1)[1]
            rebuild.append(f'ALTER TABLE {i["t"]} ADD CONSTRAINT "{i["constraint_name"]}" UNIQUE {columns}')
        else:
            await conn.execute(f'DROP INDEX "{i["name"]}"')
            rebuild.append(i["def"])
    rebuild += [f'ALTER TABLE {k["t"]} ADD CONSTRAINT "{k["conname"]}" {k["def"]}' for k in keys]
    return rebuild
