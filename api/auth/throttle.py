"""Failed staff sign-ins are counted in Redis per account and per client address, so that every API
process shares one count and guessing a password costs minutes per handful of tries, not microseconds."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

NAMESPACE = "staff-login"


def limits_uri(redis_url: str) -> str:
    """The `limits` library names its async Redis schemes apart; the embedded Redis is a unix socket."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class LoginThrottle:
    """One per application (process); it borrows the runtime's Redis connections once the runtime exists."""

    def __init__(self, redis: Callable[[], tuple[Redis, str]], per_account: int, per_address: int) -> None:
        self._redis = redis
        self._built: MovingWindowRateLimiter | None = None
        self._limits = (
            ("account", RateLimitItemPerMinute(per_account)),
            ("address", RateLimitItemPerMinute(per_address)),
        )

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._built is None:
            client, url = self._redis()
            storage = RedisStorage(limits_uri(url), implementation="redispy", connection_pool=client.connection_pool)
            self._built = MovingWindowRateLimiter(storage)
        return self._built

    async def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until the next attempt may be made; None while attempts are allowed."""
        limiter = self._limiter()
        waits = []
        for (kind, limit), key in zip(self._limits, (account, address), strict=True):
            if not await limiter.test(limit, NAMESPACE, kind, key):
                stats = await limiter.get_window_stats(limit, NAMESPACE, kind, key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits, default=None)

    async def failed(self, account: str, address: str) -> None:
        limiter = self._limiter()
        for (kind, limit), key in zip(self._limits, (account, address), strict=True):
            await limiter.hit(limit, NAMESPACE, kind, key)
