"""Nightly training of the next-step model on the orders' recent history."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domain.clock import utcnow
from ml.orders import order_event_log
from ml.registry import train
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def models_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir.resolve() / "models"


async def train_next_step(ctx: dict[str, Any], *, window_days: int = 90, now: datetime | None = None) -> str:
    """Trains on the orders that started within the window; the registry decides whether it is promoted.
    Training runs in a thread so the worker keeps serving other jobs."""
    runtime: Runtime = ctx["runtime"]
    since = (now or utcnow()) - timedelta(days=window_days)
    events = await order_event_log(runtime.core.sessions, since=since)
    decision = await asyncio.to_thread(train, events, models_dir(runtime), "minutes", now)
    log.info("next-step model: %s", decision.reason)
    return decision.reason
