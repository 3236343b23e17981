"""Customer sign-in limits, counted in Redis so every API process shares them: code requests per phone
(1 a minute, 5 an hour by default) and per client address, and sign-in attempts of every kind per address.

A refused request is not counted; an allowed one is, whatever its outcome, so guessing codes or refresh
tokens from one address costs minutes, and nobody can make orderhub text one phone all day. The limits
treat every phone alike, known to orderhub or not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from api.auth.throttle import limits_uri
from domain.settings import Settings

NAMESPACE = "customer-signin"

Limit = tuple[str, RateLimitItem, str]
"""(what is counted, the limit, whose count: a phone's keyed hash or an address)."""


class SignInThrottle:
    """One per application (process); it borrows the runtime's Redis connections once the runtime exists."""

    def __init__(self, redis: Callable[[], tuple[Redis, str]], settings: Settings) -> None:
        self._redis = redis
        self._built: MovingWindowRateLimiter | None = None
        self.phone_minute = RateLimitItemPerMinute(settings.signin_codes_per_phone_minute)
        self.phone_hour = RateLimitItemPerHour(settings.signin_codes_per_phone_hour)
        self.address_hour = RateLimitItemPerHour(settings.signin_codes_per_address_hour)
        self.attempts = RateLimitItemPerMinute(settings.signin_attempts_per_address_minute)

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._built is None:
            client, url = self._redis()
            storage = RedisStorage(limits_uri(url), implementation="redispy", connection_pool=client.connection_pool)
            self._built = MovingWindowRateLimiter(storage)
        return self._built

    async def code_request(self, phone_key: str, address: str) -> int | None:
        """Seconds to wait before this phone may get another code from this address; None: counted, go on."""
        return await self._take(
            [
                ("attempt", self.attempts, address),
                ("code-phone-minute", self.phone_minute, phone_key),
                ("code-phone-hour", self.phone_hour, phone_key),
                ("code-address", self.address_hour, address),
            ]
        )

    async def attempt(self, address: str) -> int | None:
        """A sign-in, a code check or a refresh from this address: seconds to wait, or None (counted)."""
        return await self._take([("attempt", self.attempts, address)])

    async def _take(self, limits: Sequence[Limit]) -> int | None:
        limiter = self._limiter()
        waits = []
        for kind, limit, key in limits:
            if not await limiter.test(limit, NAMESPACE, kind, key):
                stats = await limiter.get_window_stats(limit, NAMESPACE, kind, key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        if waits:
            return max(waits)
        for kind, limit, key in limits:
            await limiter.hit(limit, NAMESPACE, kind, key)
        return None
