"""What `orderhub serve` and `orderhub worker` verify before they take any work, and the reasons they
give for refusing to start.

A process that starts on a secret generated into its own data directory works, and then tokens signed
by one API process fail on the next, buyers hashed on one machine get other UIDs on another, and the
sealed traffic mirror cannot be opened once the directory is gone: in production that is a refusal at
start, not a surprise in a week. The same for a Redis that does not answer (pushes and jobs would pile
up unsent in the outbox) and a schema that is not the code's."""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfoNotFoundError

from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from domain.clock import zone
from domain.db import make_engine, migrate_async
from domain.health.selfcheck import MIN_SECRET_CHARS, WEAK_SECRETS
from domain.migrations import schema_state
from domain.settings import SECRET_NAMES, Settings

REDIS_WAIT_S = 5.0  # Redis started beside orderhub (compose, a unit file) may need a moment


def settings_problems(settings: Settings) -> list[str]:
    """Each problem names its ORDERHUB_* variable and what to do."""
    problems = []
    if settings.is_production:
        why = "ORDERHUB_ENVIRONMENT=production" if settings.environment == "production" else "a PostgreSQL database"
        for name in SECRET_NAMES:
            problem = _secret_problem(settings, name)
            if problem:
                problems.append(f"ORDERHUB_{name.upper()} {problem} ({why} needs a secret set from outside)")
        if settings.redis_url is None:
            problems.append(
                f"ORDERHUB_REDIS_URL is not set ({why}): the embedded redis-server serves one machine, "
                "so jobs and pushes would not reach the processes of another"
            )
    try:
        zone(settings.merchant_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"ORDERHUB_MERCHANT_TIMEZONE {settings.merchant_timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)"
        )
    retired = os.environ.get("ORDERHUB_RECONCILE_TIMEZONE")
    if retired is not None and retired != settings.merchant_timezone:
        problems.append(
            f"ORDERHUB_RECONCILE_TIMEZONE ({retired}) is no longer read: reconciliation follows the merchant's clock, "
            f"ORDERHUB_MERCHANT_TIMEZONE ({settings.merchant_timezone}); set that one and remove this one"
        )
    for name in ("reconcile_hour", "training_hour"):
        hour = getattr(settings, name)
        if not 0 <= hour <= 23:
            problems.append(f"ORDERHUB_{name.upper()} {hour} is not an hour of the day (0-23)")
    if settings.worker_heartbeat_seconds <= 0:
        problems.append("ORDERHUB_WORKER_HEARTBEAT_SECONDS must be more than 0")
    return problems


def _secret_problem(settings: Settings, name: str) -> str:
    configured = getattr(settings, name)
    if configured is None:
        return "is not set: a secret generated into the data directory would be used, one per machine"
    value = configured.get_secret_value()
    if value.strip().lower() in WEAK_SECRETS:
        return "is a well-known default"
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    return ""


async def startup_problems(settings: Settings, *, redis_wait_s: float = REDIS_WAIT_S) -> list[str]:
    """The settings first (nothing is touched when they are wrong), then Redis and the database; migrates
    first when ORDERHUB_MIGRATE_ON_START is on, unless the database is ahead of this code."""
    problems = settings_problems(settings)
    if problems:
        return problems
    redis_problem, database_problem = await asyncio.gather(
        _redis_problem(settings, redis_wait_s), _database_problem(settings)
    )
    return [p for p in (redis_problem, database_problem) if p]


async def _redis_problem(settings: Settings, wait_s: float) -> str:
    if settings.redis_url is None:
        return ""  # the embedded server is started by the process itself
    deadline = time.monotonic() + wait_s
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        while True:
            try:
                await client.ping()
                return ""
            except Exception as exc:  # refused, unknown host, wrong password: all are "does not answer"
                if time.monotonic() >= deadline:
                    shown = _redacted(settings.redis_url)
                    return f"ORDERHUB_REDIS_URL {shown} does not answer: {type(exc).__name__}: {exc}"
            await asyncio.sleep(0.25)
    finally:
        await client.aclose()


async def _database_problem(settings: Settings) -> str:
    url = settings.resolved_database_url()
    shown = make_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        try:
            state = await schema_state(engine)
            if not state.at_head and not state.ahead and settings.migrate_on_start:
                await migrate_async(url)
                state = await schema_state(engine)
        except Exception as exc:  # whatever the driver says, the database cannot be used
            return f"the database {shown} does not answer: {_reason(exc)}"
    finally:
        await engine.dispose()
    if state.at_head:
        return ""
    if not state.ahead:
        return f"{state.describe()} (or set ORDERHUB_MIGRATE_ON_START=true)"
    return state.describe()


def _reason(exc: Exception) -> str:
    """The driver's own words, without SQLAlchemy's wrapping and its link to its docs."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {str(cause)[:300]}"


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
