"""Runs one arq Worker per queue in one process, and keeps each running through Redis outages.

arq's Worker ends with the first Redis error of its polling loop: a restart of Redis used to end
`orderhub worker` with rc=1, and every cron with it. Here a worker that lost Redis is replaced by a
fresh one after a back-off (1 s, doubling up to 30 s), until Redis answers again. The jobs the lost
worker had started keep running; one whose result cannot be written runs again once its in-progress
key expires, which every job tolerates (arq delivers at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from arq.worker import Worker
from redis.exceptions import RedisError

from runtime.queues import Queue

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisError, OSError)
MAX_BACKOFF_S = 30.0
STEADY_S = 60.0  # a worker that ran this long before failing starts its back-off afresh


class Supervisor:
    def __init__(self, make_worker: Callable[[Queue], Worker], queues: Sequence[Queue]) -> None:
        self.make_worker = make_worker
        self.queues = list(queues)
        self.reconnects = 0
        self._current: dict[str, Worker] = {}
        self._retiring: set[asyncio.Task[None]] = set()  # workers that lost Redis, finishing their jobs
        self._stopping = asyncio.Event()

    @property
    def jobs_in_flight(self) -> int:
        return sum(len(worker.tasks) for worker in self._current.values())

    async def run(self) -> None:
        """Returns when every worker ended on its own (burst) or after stop()."""
        await asyncio.gather(*(self._serve(queue) for queue in self.queues))

    async def _serve(self, queue: Queue) -> None:
        loop = asyncio.get_running_loop()
        backoff = 1.0
        while not self._stopping.is_set():
            worker = self._current[queue.name] = self.make_worker(queue)
            started = loop.time()
            try:
                await worker.async_run()
                return
            except asyncio.CancelledError:
                if self._stopping.is_set():  # stop() closed the worker
                    return
                raise
            except REDIS_DOWN as exc:
                retiring = asyncio.create_task(self._retire(worker))
                self._retiring.add(retiring)
                retiring.add_done_callback(self._retiring.discard)
                if loop.time() - started > STEADY_S:
                    backoff = 1.0
                self.reconnects += 1
                log.warning("queue %s lost Redis (%s); reconnecting in %.0f s", queue.name, exc, backoff)
                with contextlib.suppress(TimeoutError):  # a stop ends the wait
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _retire(self, worker: Worker) -> None:
        """The jobs a lost worker started finish on their own; then its connections are closed."""
        try:
            await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        finally:
            with contextlib.suppress(*REDIS_DOWN):
                await worker.pool.aclose()

    async def stop(self, grace: float) -> None:
        """Picks no new job, lets the jobs in flight finish for up to `grace` seconds, then cancels the
        rest (arq runs a cancelled job again)."""
        self._stopping.set()
        for worker in self._current.values():
            worker.allow_pick_jobs = False
        running = {t for w in self._current.values() for t in w.tasks.values()} | self._retiring
        if running:
            await asyncio.wait(running, timeout=grace)
        for worker in self._current.values():
            try:
                await worker.close()
            except REDIS_DOWN as exc:
                log.warning("worker of %s closed without Redis: %s", worker.queue_name, exc)
        for task in self._retiring:
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
