"""Fair use: each partner key spends its queries' cost points (api/graphql/cost.py) from a bucket kept in Redis,
so that every API process draws on the same one.

The bucket is the `limits` library's sliding window counter over `size / restore_rate` seconds: up to `size`
points at once, then about `restore_rate` points a second as the previous window's weight runs out. A refused
request is told how long until its cost fits, worked out from the same two counters the library weighs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from api.auth.throttle import limits_uri

NAMESPACE = "partner-cost"


@dataclass(frozen=True)
class Spend:
    allowed: bool
    cost: int
    available: int
    """Points left after this request (when refused: left now)."""
    maximum: int
    restore_rate: int
    retry_after_ms: int | None = None


@dataclass(frozen=True)
class Window:
    """The two counters as Redis holds them: the previous window's count and how long its weight lasts, and
    the current window's count and how long its key lives (one window more than the window itself)."""

    previous: int
    previous_expires_in: float
    current: int
    current_expires_in: float


def wait_for(window: Window, seconds: float, size: int, cost: int) -> float:
    """Seconds until `cost` points fit: first the previous window's weight runs out, then, if that is not
    enough, the current window becomes the previous one and runs out in turn."""
    target = size - cost
    weighted = window.previous * window.previous_expires_in / seconds + window.current
    if weighted <= target:
        return 0.0
    if window.current <= target and window.previous > 0:
        return max(0.0, window.previous_expires_in - (target - window.current) * seconds / window.previous)
    window_ends = max(0.0, window.current_expires_in - seconds)
    return window_ends + seconds * (1 - target / window.current)


class CostBucket:
    """One per application (process); it borrows the runtime's Redis connections once the runtime exists."""

    def __init__(self, redis: Callable[[], tuple[Redis, str]], size: int, restore_per_second: int) -> None:
        self._redis = redis
        self.size = size
        self.restore_rate = max(1, restore_per_second)
        self.seconds = max(1, math.ceil(size / self.restore_rate))
        self._item = RateLimitItemPerSecond(max(1, size), self.seconds, namespace=NAMESPACE)
        self._built: SlidingWindowCounterRateLimiter | None = None

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        if self._built is None:
            client, url = self._redis()
            storage = RedisStorage(limits_uri(url), implementation="redispy", connection_pool=client.connection_pool)
            self._built = SlidingWindowCounterRateLimiter(storage)
        return self._built

    async def _window(self, key: str) -> Window:
        storage = self._limiter().storage
        counts = await storage.get_sliding_window(self._item.key_for(key), self._item.get_expiry())  # type: ignore[union-attr]
        return Window(*counts)

    async def spend(self, key_id: int, cost: int) -> Spend:
        """Takes `cost` points from the key's bucket, or none when they are not all there."""
        limiter, key = self._limiter(), f"key:{key_id}"
        allowed = cost <= 0 or (cost <= self.size and await limiter.hit(self._item, key, cost=cost))
        window = await self._window(key)
        weighted = window.previous * window.previous_expires_in / self.seconds + window.current
        available = max(0, self.size - math.ceil(weighted))
        retry = None
        if not allowed and cost <= self.size:  # a query costing more than the bucket holds never fits
            retry = max(1, math.ceil(wait_for(window, self.seconds, self.size, cost) * 1000))
        return Spend(allowed, cost, available, self.size, self.restore_rate, retry)
