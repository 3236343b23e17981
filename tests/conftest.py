"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL, against the
migrated schema, with a real Redis (the machine's, or an embedded redis-server)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from sqlalchemy import text
from sqlmodel import SQLModel

import domain.tables  # noqa: F401
from api.app import create_app
from api.auth.tokens import issue_customer_token, issue_staff_token
from domain.access.service import create_staff, issue_partner_key
from domain.db import migrate
from domain.settings import Settings
from runtime.embedded_redis import EmbeddedRedis
from runtime.process import Runtime, build_runtime

IN_CI = os.environ.get("CI") == "true"
PG_ADMIN = os.environ.get("ORDERHUB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _own_redis_database(url: str) -> str:
    """Each pytest-xdist worker (gw0, gw1, ...) flushes its own Redis database, the given one plus its number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    base, _sep, number = url.rpartition("/")
    return f"{base}/{int(number or 0) + int(worker.removeprefix('gw'))}"


REDIS_URL = _own_redis_database(os.environ.get("ORDERHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))


def _pg_reachable() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def _pg_exec(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'orderhub.db'}"
        migrate(url)
        yield url
        return
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL must be reachable in CI at {PG_ADMIN}")
        pytest.skip("PostgreSQL not reachable")
    name = f"orderhub_test_{secrets.token_hex(4)}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    migrate(url)
    yield url
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis (required in CI); elsewhere an embedded real redis-server if none runs."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.flushdb()
        client.close()
        yield REDIS_URL
        return
    except redis.exceptions.ConnectionError:
        if IN_CI:
            pytest.fail(f"Redis must be reachable in CI at {REDIS_URL}")
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield embedded.start()
    embedded.stop()


def make_settings(data_dir: Path, database_url: str, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "identity_key": "test-identity-key-0123456789",
        "token_secret": "test-token-secret-0123456789abcdef",
        "vault_key": "test-vault-key",
        "health_shared_seconds": 0,  # a test reads its own writes; tests/integration/test_health_shared.py shares
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
async def runtime(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path_factory.mktemp("data"), database_url, redis_url)
    rt = await build_runtime(settings, migrate=False)
    yield rt
    await rt.close()


async def truncate_all(rt: Runtime) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with rt.core.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def rt(runtime: Runtime) -> AsyncIterator[Runtime]:
    """A runtime with empty tables; waits for the relay so no test leaks work into the next."""
    await truncate_all(runtime)
    await runtime.redis.flushdb()
    yield runtime
    await runtime.relay.drained()


@dataclass
class Api:
    client: httpx.AsyncClient
    runtime: Runtime

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[Api]:
    app = create_app(runtime=rt)
    # English, so that tests read messages by their English text; tests/integration/test_language.py reads the others.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers={"Accept-Language": "en"}
    ) as client:
        yield Api(client, rt)


@dataclass
class Credentials:
    writer: dict[str, str]
    reader: dict[str, str]
    wms_only: dict[str, str]
    admin: dict[str, str]
    cs: dict[str, str]

    def customer(self, rt: Runtime, uid: str) -> dict[str, str]:
        token = issue_customer_token(rt.settings.secret("token_secret"), uid, 10)
        return {"Authorization": f"Bearer {token.token}"}


@pytest.fixture
async def creds(rt: Runtime) -> Credentials:
    secret = rt.settings.secret("token_secret")
    async with rt.core.sessions() as session, session.begin():
        writer = await issue_partner_key(session, "channel-bridge", ["orders:write", "orders:read"])
        reader = await issue_partner_key(session, "erp", ["orders:read"])
        wms = await issue_partner_key(session, "wms", ["wms:write"])
        admin = await create_staff(session, "admin@shop.example", "correct horse battery", ["admin"])
        cs = await create_staff(session, "cs@shop.example", "correct horse battery", ["cs"])
    assert admin.id and cs.id
    return Credentials(
        writer={"X-Api-Key": writer.key},
        reader={"X-Api-Key": reader.key},
        wms_only={"X-Api-Key": wms.key},
        admin={"Authorization": "Bearer " + issue_staff_token(secret, admin.id, admin.email, admin.roles, 10).token},
        cs={"Authorization": "Bearer " + issue_staff_token(secret, cs.id, cs.email, cs.roles, 10).token},
    )


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium, which the console's browser tests drive headless (make browser installs it)."""
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("Debian's chromium must be installed in CI (make test installs it)")
        pytest.skip("chromium not installed")
    return CHROMIUM
