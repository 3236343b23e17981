"""Whether a database's schema is the one this code was written for: alembic's heads against the
`alembic_version` table.

A process that serves a schema behind its code fails on the first query that touches a new column;
one that serves a schema ahead of it (an older release rolled back onto a migrated database) fails
in subtler ways. Both are found here, before a request is taken."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.db import REPO_ROOT


@lru_cache
def code_heads() -> frozenset[str]:
    """The head revisions of the migrations shipped with this code; read once, they do not change while it runs."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(REPO_ROOT / "alembic")).get_heads())


@lru_cache
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(script.revision for script in ScriptDirectory(str(REPO_ROOT / "alembic")).walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    database: frozenset[str]  # what alembic_version holds; empty for a database never migrated
    code: frozenset[str]

    @property
    def at_head(self) -> bool:
        return self.database == self.code

    @property
    def ahead(self) -> frozenset[str]:
        """Revisions the database has that this code does not know: a newer release migrated it."""
        return self.database - known_revisions()

    def describe(self) -> str:
        database = ", ".join(sorted(self.database)) or "none (never migrated)"
        code = ", ".join(sorted(self.code))
        if self.at_head:
            return f"at head {code}"
        if self.ahead:
            return (
                f"the database is at revision {database}, which this release does not know (its head is {code}): "
                "a newer release migrated it; run that release"
            )
        return f"the database is at revision {database}, behind this release's head {code}: run `orderhub migrate`"


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Raises what the driver raises when the database does not answer; a missing table is no revision."""
    async with engine.connect() as connection:
        try:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        except DBAPIError as exc:
            if "alembic_version" not in str(exc.orig):
                raise
            rows = []
    return SchemaState(frozenset(str(r) for r in rows), code_heads())
