"""Sends committed outbox rows to Redis pub/sub and to arq, then marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.outbox.models import OutboxKind, OutboxMessage
from domain.outbox.service import claim_unsent, job_id, mark_sent
from domain.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 500


def channel_name(topic: str) -> str:
    """Deployments sharing one Redis keep apart by ORDERHUB_PUBSUB_PREFIX: every process of one
    deployment reads the same environment, so publishers and subscribers agree on the name."""
    return f"{get_settings().pubsub_prefix}:{topic}"


async def send(redis: ArqRedis, rows: list[OutboxMessage]) -> None:
    """Publishing is at-least-once; enqueueing is exactly-once per row thanks to the job id."""
    publishes = [r for r in rows if r.kind == OutboxKind.PUBLISH]
    if publishes:
        async with redis.pipeline(transaction=False) as pipe:
            for row in publishes:
                pipe.publish(channel_name(row.target), json.dumps(row.payload))
            await pipe.execute()
    for row in rows:
        if row.kind == OutboxKind.JOB:
            await redis.enqueue_job(
                row.target,
                **row.payload,
                _job_id=job_id(row),
                _defer_by=timedelta(seconds=row.defer_seconds) if row.defer_seconds else None,
            )


async def relay_once(
    sessions: async_sessionmaker[AsyncSession], redis: ArqRedis, *, older_than: timedelta | None = None
) -> int:
    """Send one batch; returns how many rows were sent."""
    async with sessions() as session, session.begin():
        rows = list(await claim_unsent(session, limit=BATCH, older_than=older_than))
        if not rows:
            return 0
        await send(redis, rows)
        await mark_sent(session, [r.id for r in rows if r.id is not None])
    return len(rows)


class OutboxRelay:
    """One per process: woken after each commit, it drains the outbox in the background so that
    requests do not wait for Redis."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: ArqRedis) -> None:
        self.sessions = sessions
        self.redis = redis
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Wait until everything committed so far has been sent (used by tests and the demo)."""
        self.notify()
        async with asyncio.timeout(30):
            await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await relay_once(self.sessions, self.redis):
                    pass
            except Exception:  # the sweeper sends what a failed pass leaves behind
                log.exception("outbox relay pass failed")
                await asyncio.sleep(1)
                self._wake.set()
                continue
            if not self._wake.is_set():
                self._idle.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def redis_client(url: str) -> Redis:
    return Redis.from_url(url)
