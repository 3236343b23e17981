"""When a failed delivery is tried again, and when an endpoint that keeps failing is switched off."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    cap_s: float
    period: timedelta  # a delivery is retried for this long after its event, then given up (FAILED)
    disable_after_failures: int
    disable_after: timedelta

    def next_attempt(
        self, created_at: datetime, now: datetime, attempts: int, rng: random.Random | None = None
    ) -> datetime | None:
        """Exponential backoff with full jitter: a random wait up to base * 2^(attempts-1), capped. The
        randomness spreads the retries of a burst that failed together (an endpoint back from an outage would
        otherwise meet all of them at once). None once the next try would fall past the retry period."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempts - 1, 40))
        wait = max(1.0, (rng or random).uniform(0, ceiling))
        at = now + timedelta(seconds=wait)
        return None if at > created_at + self.period else at

    def should_disable(self, consecutive_failures: int, failing_since: datetime | None, now: datetime) -> bool:
        """Both: every attempt failed for `disable_after`, and at least `disable_after_failures` of them. A burst
        of failures in a short outage does not switch an endpoint off; days of nothing but failures do."""
        if failing_since is None:
            return False
        return consecutive_failures >= self.disable_after_failures and now - failing_since >= self.disable_after


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.webhook_backoff_base_seconds,
        cap_s=settings.webhook_backoff_cap_seconds,
        period=timedelta(hours=settings.webhook_retry_hours),
        disable_after_failures=settings.webhook_disable_after_failures,
        disable_after=timedelta(hours=settings.webhook_disable_after_hours),
    )
