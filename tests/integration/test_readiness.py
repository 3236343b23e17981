"""`/readyz`, the start-up checks and `orderhub worker --check`, against real databases and a real Redis."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from bench.processes import free_port
from domain.db import make_session_factory, migrate_async
from domain.migrations import code_heads
from runtime.heartbeat import read_beats, write_beat
from runtime.process import Runtime, build_runtime
from runtime.startup import startup_problems
from tests.conftest import Api, Credentials, make_settings
from workers.heartbeat import Heartbeat

EN = {"Accept-Language": "en"}  # messages are read by their English text here

ROOT = Path(__file__).parents[2]
ALL_OK = {"database": "ok", "redis": "ok", "migrations": "ok"}
HEAD = ", ".join(sorted(code_heads()))


async def readyz(runtime: Runtime, headers: dict[str, str] | None = None) -> httpx.Response:
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN
    ) as client:
        return await client.get("/readyz", headers=headers or {})


async def test_ready_and_staff_see_the_details_and_the_workers(api: Api, creds: Credentials) -> None:
    heartbeat = Heartbeat(api.runtime, ["default", "predict"], lambda: 1)
    await heartbeat.job_started({"job_id": "outbox:7:1765000000"})
    await heartbeat.job_started({"job_id": "cron:sweep_outbox:1765000000"})
    await write_beat(api.runtime.redis, api.runtime.settings.pubsub_prefix, heartbeat.beat())

    for headers in ({}, creds.customer(api.runtime, "some-uid"), creds.writer):
        answer = await api.client.get("/readyz", headers=headers)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready", "checks": ALL_OK, "failed": []}

    staff = (await api.client.get("/readyz", headers=creds.cs)).json()
    assert staff["checks"] == ALL_OK
    assert staff["detail"]["migrations"] == f"at head {HEAD}"
    (worker,) = staff["workers"]
    assert worker["workerId"] == heartbeat.worker_id == f"{os.uname().nodename}:{os.getpid()}"
    assert (worker["queues"], worker["alive"], worker["jobsRun"], worker["cronJobsRun"], worker["jobsInFlight"]) == (
        ["default", "predict"], True, 2, 1, 1
    )  # fmt: skip
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}


async def test_redis_down_is_unavailable(rt: Runtime, creds: Credentials) -> None:
    dead = ArqRedis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        answer = await readyz(replace(rt, redis=dead), creds.admin)
    finally:
        await dead.aclose()
    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["failed"]) == ("unavailable", ["redis"])
    assert "ConnectionError" in body["detail"]["redis"] and body["workers"] is None


async def test_database_down_is_unavailable_and_nobody_is_staff(rt: Runtime, creds: Credentials) -> None:
    dead = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/orderhub")
    cut_off = replace(rt, core=replace(rt.core, engine=dead, sessions=make_session_factory(dead)))
    try:
        answer = await readyz(cut_off, creds.admin)
    finally:
        await dead.dispose()
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "checks": {"database": "failed", "redis": "ok", "migrations": "failed"},
        "failed": ["database", "migrations"],
    }


async def test_schema_behind_or_ahead_of_the_code(redis_url: str, tmp_path: Path) -> None:
    """A database one migration behind: refused at start unless migrating is allowed, and not ready;
    migrated, it is; then a revision this code does not know (a newer release's) is refused again."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    (head,) = code_heads()
    previous = f"{int(head) - 1:04d}"
    await migrate_async(url, previous)
    settings = make_settings(tmp_path, url, redis_url, migrate_on_start=False)

    (problem,) = await startup_problems(settings)
    assert problem == (
        f"the database is at revision {previous}, behind this release's head {head}: run `orderhub migrate` "
        "(or set ORDERHUB_MIGRATE_ON_START=true)"
    )
    runtime = await build_runtime(settings, migrate=False, relay=False)
    try:
        answer = await readyz(runtime)
        assert (answer.status_code, answer.json()["failed"]) == (503, ["migrations"])

        assert await startup_problems(settings.model_copy(update={"migrate_on_start": True})) == []
        assert (await readyz(runtime)).status_code == 200

        async with runtime.core.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        (problem,) = await startup_problems(settings.model_copy(update={"migrate_on_start": True}))
        assert problem.startswith("the database is at revision 9999, which this release does not know")
        assert (await readyz(runtime)).json()["failed"] == ["migrations"]
    finally:
        await runtime.close()


async def test_a_redis_that_does_not_answer_is_refused_at_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orderhub.db'}"
    port = free_port()
    settings = make_settings(tmp_path, url, f"redis://:hunter2@127.0.0.1:{port}/0")
    (problem,) = await startup_problems(settings, redis_wait_s=0)
    assert problem.startswith(f"ORDERHUB_REDIS_URL redis://:***@127.0.0.1:{port}/0 does not answer: ConnectionError")


def test_the_commands_refuse_and_check_in_one_line(redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= {"ORDERHUB_DATA_DIR": str(tmp_path), "ORDERHUB_REDIS_URL": redis_url}
    production = env | {"ORDERHUB_ENVIRONMENT": "production"}
    refused = subprocess.run([sys.executable, "-m", "cli.main", "serve"], env=production, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("orderhub serve: refusing to start:\n  - ORDERHUB_IDENTITY_KEY is not set")
    assert not (tmp_path / "orderhub.db").exists(), "nothing is touched when the settings are wrong"

    env["ORDERHUB_PUBSUB_PREFIX"] = f"nobody-{secrets.token_hex(4)}"
    check = subprocess.run([sys.executable, "-m", "cli.main", "worker", "--check", "--queue", "long"], env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (check.returncode, check.stdout) == (1, "failed: no live worker for queue long (no heartbeat at all)\n")


async def test_a_stopped_worker_takes_its_heartbeat_with_it(rt: Runtime) -> None:
    heartbeat = Heartbeat(rt, ["long"], lambda: 0)
    await write_beat(rt.redis, rt.settings.pubsub_prefix, heartbeat.beat())
    assert [b.worker_id for b in await read_beats(rt.redis, rt.settings.pubsub_prefix)] == [heartbeat.worker_id]
    await heartbeat.remove()
    assert await read_beats(rt.redis, rt.settings.pubsub_prefix) == []
