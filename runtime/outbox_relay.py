"""Sends committed outbox rows to Redis pub/sub and to arq, then marks them sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.outbox.carry import CARRY_KWARG
from domain.outbox.models import OutboxKind, OutboxMessage
from domain.outbox.service import claim_unsent, job_id
from domain.settings import Settings
from domain.webhooks.deliveries import DELIVER_JOB, Due
from runtime.queues import queue_of
from runtime.webhook_fanout import WebhookFanout

log = logging.getLogger(__name__)

BATCH = 500

# arq's enqueue_job for many jobs at once: a job id is refused while its job or its result is kept.
_ENQUEUE = """
local enqueued = 0
for i = 1, #KEYS, 3 do
  local a = (i - 1) / 3 * 4
  if redis.call('exists', KEYS[i], KEYS[i + 1]) == 0 then
    redis.call('psetex', KEYS[i], ARGV[a + 1], ARGV[a + 2])
    redis.call('zadd', KEYS[i + 2], ARGV[a + 3], ARGV[a + 4])
    enqueued = enqueued + 1
  end
end
return enqueued
"""


DEFAULT_PUBSUB_PREFIX: str = Settings.model_fields["pubsub_prefix"].default


def channel_name(topic: str, prefix: str = DEFAULT_PUBSUB_PREFIX) -> str:
    """Deployments sharing one Redis keep apart by their pub/sub prefix (ORDERHUB_PUBSUB_PREFIX). The
    relay and the push hub are handed the prefix of the runtime they serve, not the process's global
    settings: a process may hold runtimes of two deployments (tests, the demo), and each must publish
    where its own subscribers listen."""
    return f"{prefix}:{topic}"


async def send(
    redis: ArqRedis, rows: list[OutboxMessage], prefix: str = DEFAULT_PUBSUB_PREFIX, deliveries: Sequence[Due] = ()
) -> None:
    """Publishing is at-least-once; enqueueing is exactly-once per row thanks to the job id, and per webhook
    delivery attempt likewise.

    The whole batch is one round trip: arq's own enqueue_job takes three per job, which made the
    relay fall tens of seconds behind a batch load."""
    now = timestamp_ms()
    keys: list[str] = []
    args: list[bytes | int | str] = []

    def enqueue(job_name: str, key: str, payload: dict[str, Any], defer: int) -> None:
        job = serialize_job(job_name, (), payload, None, now, serializer=redis.job_serializer)
        keys.extend([job_key_prefix + key, result_key_prefix + key, queue_of(job_name).name])
        args.extend([defer + redis.expires_extra_ms, job, now + defer, key])

    async with redis.pipeline(transaction=False) as pipe:
        for row in rows:
            if row.kind == OutboxKind.PUBLISH:
                pipe.publish(channel_name(row.target, prefix), json.dumps(row.payload))
            elif row.kind == OutboxKind.JOB:
                kwargs = row.payload if row.carry is None else {**row.payload, CARRY_KWARG: row.carry}
                enqueue(row.target, job_id(row), kwargs, row.defer_seconds * 1000)
        for due in deliveries:
            enqueue(DELIVER_JOB, due.job_id(), due.job_args(), 0)
        if keys:
            pipe.eval(_ENQUEUE, len(keys), *keys, *args)  # type: ignore[arg-type]  # EVAL, not EVALSHA: no SCRIPT EXISTS round trip
        await pipe.execute()


async def relay_once(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    older_than: timedelta | None = None,
    prefix: str = DEFAULT_PUBSUB_PREFIX,
    webhooks: WebhookFanout | None = None,
) -> int:
    """Send one batch; returns how many rows were sent. The rows are claimed and marked sent in one
    statement and stay locked during the one round trip to Redis, so that the relays of other processes
    skip them instead of sending them again; if the send fails, the transaction rolls the mark back.

    The same transaction writes the webhook deliveries the rows make (`webhooks`), so they exist exactly when
    the rows count as sent; their first attempts are enqueued in the same round trip. An attempt that starts
    before this commits waits for it (see workers/webhook_jobs)."""
    async with sessions() as session, session.begin():
        rows = await claim_unsent(session, limit=BATCH, older_than=older_than)
        if not rows:
            return 0
        deliveries = [] if webhooks is None else await webhooks.deliveries(session, rows)
        await send(redis, rows, prefix, deliveries)
    return len(rows)


class OutboxRelay:
    """One per process: woken after each commit, it drains the outbox in the background so that
    requests do not wait for Redis. On stop it first sends what is committed, for at most
    `drain_seconds`; anything left then is the sweeper's."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redis: ArqRedis,
        *,
        drain_seconds: float = 10.0,
        prefix: str = DEFAULT_PUBSUB_PREFIX,
        webhooks: WebhookFanout | None = None,
    ) -> None:
        self.sessions = sessions
        self.redis = redis
        self.prefix = prefix
        self.webhooks = webhooks
        self.drain_seconds = drain_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        self.notify()  # rows a stopped process left behind go now, not at the next commit

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def drained(self, wait_seconds: float = 30) -> None:
        """Wait until everything committed so far has been sent."""
        self.notify()
        async with asyncio.timeout(wait_seconds):
            await self._idle.wait()

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:  # a short batch was all there was: rows committed since woke the relay again
                while await relay_once(self.sessions, self.redis, prefix=self.prefix, webhooks=self.webhooks) == BATCH:
                    pass
            except Exception:  # Redis or the database is away: try again, more slowly each time
                failures += 1
                log.exception("outbox relay pass failed (%d in a row)", failures)
                await asyncio.sleep(min(0.5 * 2**failures, 10.0))
                self._wake.set()
                continue
            failures = 0
            if not self._wake.is_set():
                self._idle.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        try:
            await self.drained(self.drain_seconds)
        except TimeoutError:
            log.warning(
                "outbox relay stopped after %.0f s with rows unsent; the sweeper sends them", self.drain_seconds
            )
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
