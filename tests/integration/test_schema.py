"""The published GraphQL schema and the database schema change only on purpose."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from api.graphql.schema import SCHEMA_FILE, build_schema
from runtime.process import Runtime


def test_schema_graphql_is_exported() -> None:
    """Fails when the code's schema differs from the committed file: run `orderhub schema` and review the diff."""
    assert SCHEMA_FILE.read_text() == build_schema().as_str() + "\n"


async def test_migrations_match_the_models(runtime: Runtime) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with runtime.core.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
