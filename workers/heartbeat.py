"""The heartbeat of one `orderhub worker` process: counts the jobs it starts and writes them to Redis
every ORDERHUB_WORKER_HEARTBEAT_SECONDS (see runtime.heartbeat for who reads it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from domain.clock import utcnow
from runtime.heartbeat import Beat, remove_beat, write_beat
from runtime.process import Runtime

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, runtime: Runtime, queues: Sequence[str], in_flight: Callable[[], int]) -> None:
        self.runtime = runtime
        self.queues = tuple(queues)
        self.in_flight = in_flight
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = utcnow()
        self.jobs_run = 0
        self.cron_jobs_run = 0

    async def job_started(self, ctx: dict[str, Any]) -> None:
        """arq's on_job_start hook: every run counts, a retry or a run after a crash included."""
        self.jobs_run += 1
        if str(ctx.get("job_id", "")).startswith("cron:"):
            self.cron_jobs_run += 1

    def beat(self) -> Beat:
        return Beat(
            self.worker_id, self.queues, self.started_at, utcnow(), self.jobs_run, self.cron_jobs_run, self.in_flight()
        )

    async def run(self) -> None:
        """Until cancelled; a Redis outage skips beats (the supervisor reconnects the workers meanwhile)."""
        settings = self.runtime.settings
        while True:
            try:
                await write_beat(self.runtime.redis, settings.pubsub_prefix, self.beat())
            except (RedisError, OSError) as exc:
                log.warning("heartbeat not written: %s", exc)
            await asyncio.sleep(settings.worker_heartbeat_seconds)

    async def remove(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await remove_beat(self.runtime.redis, self.runtime.settings.pubsub_prefix, self.worker_id)
