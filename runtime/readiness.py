"""Whether this process can serve: the database answers, Redis answers, the schema is at this code's head.

Behind `/readyz`: a balancer sends traffic only to a process that says yes, so each check is bounded in
time (a database that hangs must make the answer 503, not make the probe time out)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.migrations import SchemaState, schema_state

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # for staff only: may name hosts and driver errors


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def checks_ok(self, name: str) -> bool:
        return any(c.ok for c in self.checks if c.name == name)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]


async def check_readiness(engine: AsyncEngine, redis: Redis, timeout_s: float = CHECK_TIMEOUT_S) -> Readiness:
    (database, migrations), redis_check = await asyncio.gather(
        _database_checks(engine, timeout_s), _redis_check(redis, timeout_s)
    )
    return Readiness((database, redis_check, migrations))


async def _database_checks(engine: AsyncEngine, timeout_s: float) -> tuple[Check, Check]:
    """One query answers both: the database is up, and which revision it holds."""
    try:
        async with asyncio.timeout(timeout_s):
            state: SchemaState = await schema_state(engine)
    except Exception as exc:  # whatever the driver raises, the database did not answer
        failure = _describe(exc, timeout_s)
        return Check("database", False, failure), Check("migrations", False, "not checked: the database did not answer")
    return Check("database", True, engine.dialect.name), Check("migrations", state.at_head, state.describe())


async def _redis_check(redis: Redis, timeout_s: float) -> Check:
    try:
        async with asyncio.timeout(timeout_s):
            await redis.ping()
    except Exception as exc:  # connection refused, timeout, authentication: all mean no Redis
        return Check("redis", False, _describe(exc, timeout_s))
    return Check("redis", True, "answers PING")


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}"[:300]
