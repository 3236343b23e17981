"""The health of a period, computed once for everyone who asks for it within a few seconds.

At a million orders a day the five metrics read the whole day's orders: a few hundred milliseconds of database
time that every member of staff opening the Health page would pay again. One computation answers every request
for the same period, metrics and dimension while it runs and for `health_shared_seconds` after it ends; its
`computedAt` says when it was made. Thresholds and verdicts are not kept here: a changed threshold shows at once.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    task: asyncio.Future[T]
    expires: float = math.inf  # set once the computation ends


@dataclass
class Shared(Generic[T]):
    seconds: float
    _entries: dict[Hashable, _Entry[T]] = field(default_factory=dict)

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer for `key`: the one being computed or computed less than `seconds` ago, else a new one. A
        failed computation is not kept; a caller that goes away does not cancel it for the others."""
        if self.seconds <= 0:
            return await compute()
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(asyncio.ensure_future(compute()))
            self._entries[key] = entry
            entry.task.add_done_callback(lambda done: self._ended(key, done, loop.time()))
        return await asyncio.shield(entry.task)

    def _ended(self, key: Hashable, done: asyncio.Future[T], now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.task is not done:
            return
        if done.cancelled() or done.exception() is not None:
            del self._entries[key]
        else:
            entry.expires = now + self.seconds
