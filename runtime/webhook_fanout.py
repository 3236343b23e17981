"""The outbox relay's view of webhook subscriptions, read at most once per `ttl_s` per process.

The relay passes once or more per request; reading the endpoints on each pass would be a statement more per
request for a list that changes a few times a year. A new or changed endpoint is heard within `ttl_s`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.outbox.models import OutboxKind, OutboxMessage
from domain.webhooks.deliveries import Due, Subscription, fan_out, subscriptions


class WebhookFanout:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._read_at = -float("inf")
        self._subs: list[Subscription] = []

    async def deliveries(self, session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Due]:
        if not any(row.kind == OutboxKind.PUBLISH for row in rows):
            return []
        now = time.monotonic()
        if now - self._read_at >= self.ttl_s:
            self._subs = await subscriptions(session)
            self._read_at = now
        return await fan_out(session, self._subs, rows)

    def forget(self) -> None:
        """Read the subscriptions again on the next pass (after this process changed one)."""
        self._read_at = -float("inf")
