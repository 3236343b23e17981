"""Metrics read when scraped: what the database and Redis know already is read, not counted again.

Counting the outbox's backlog or a queue's depth in the processes that change them would be wrong as soon
as two processes do (and every restart would reset it); a handful of indexed reads per scrape is right for
any number of processes: the unsent outbox rows and the age of the oldest (`sent_at` is indexed), the depth
of each arq queue (one ZCARD each), when the last reconciliation started and the latest daily value of each
health metric.

A scrape runs in a thread of its own (prometheus-client collects synchronously), so it opens its own short
connections, in an event loop of its own, and never touches the serving process's pools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from domain.clock import utcnow
from domain.health.models import HealthSnapshot
from domain.health.thresholds import Metric as HealthMetric
from domain.health.windows import Dimension, Period
from domain.outbox.models import OutboxMessage
from domain.reconcile.models import ReconRun
from runtime.queues import QUEUES

TIMEOUT_S = 5.0


@dataclass
class State:
    outbox_unsent: int = 0
    outbox_oldest_seconds: float = 0.0
    queue_depth: dict[str, int] = field(default_factory=dict)
    last_reconciliation: datetime | None = None
    health: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def _read_database(connection: AsyncConnection, state: State) -> None:
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    unsent = select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
    count, oldest = (await connection.execute(unsent)).one()
    state.outbox_unsent = int(count)
    oldest = _aware(oldest)
    state.outbox_oldest_seconds = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
    runs = ReconRun.__table__  # type: ignore[attr-defined]
    state.last_reconciliation = _aware((await connection.execute(select(func.max(runs.c.started_at)))).scalar())
    snapshots = HealthSnapshot.__table__  # type: ignore[attr-defined]
    for metric in HealthMetric:
        latest = (
            select(snapshots.c.value)
            .where(
                snapshots.c.metric == metric.value,
                snapshots.c.period == Period.DAY.value,
                snapshots.c.dimension == Dimension.ALL.value,
            )
            .order_by(snapshots.c.period_start.desc(), snapshots.c.computed_at.desc())
            .limit(1)
        )
        value = (await connection.execute(latest)).scalar()
        if value is not None:
            state.health[metric.value] = float(value)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC times."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def read_state(database_url: str, redis_url: str | None) -> State:
    """What the scrape reports; a store that does not answer is reported (`orderhub_scrape_failures`), not
    raised: the counted metrics are still worth answering."""
    state = State()
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with asyncio.timeout(TIMEOUT_S), engine.connect() as connection:
            await _read_database(connection, state)
    except Exception as exc:
        state.failures.append(f"database: {type(exc).__name__}")
    finally:
        await engine.dispose()
    if redis_url is None:
        return state
    redis = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(TIMEOUT_S), redis.pipeline(transaction=False) as pipe:
            for queue in QUEUES.values():
                pipe.zcard(queue.name)
            depths = await pipe.execute()
        state.queue_depth = {name: int(d) for name, d in zip(QUEUES, depths, strict=True)}
    except Exception as exc:
        state.failures.append(f"redis: {type(exc).__name__}")
    finally:
        await redis.aclose()
    return state


class StateCollector(Collector):
    def __init__(self, database_url: str, redis_url: str | None) -> None:
        self.database_url = database_url
        self.redis_url = redis_url

    def collect(self) -> Iterator[Metric]:
        state = asyncio.run(read_state(self.database_url, self.redis_url))
        yield from families(state)


def families(state: State) -> Iterator[Metric]:
    yield GaugeMetricFamily("orderhub_outbox_unsent", "Outbox rows committed and not sent yet.", state.outbox_unsent)
    yield GaugeMetricFamily(
        "orderhub_outbox_oldest_unsent_seconds",
        "Age of the oldest unsent outbox row (0 when none).",
        state.outbox_oldest_seconds,
    )
    depth = GaugeMetricFamily("orderhub_queue_depth", "Jobs waiting in each arq queue.", labels=["queue"])
    for name, count in state.queue_depth.items():
        depth.add_metric([name], count)
    yield depth
    if state.last_reconciliation is not None:
        yield GaugeMetricFamily(
            "orderhub_reconciliation_last_started_timestamp_seconds",
            "When the latest reconciliation run started (Unix time).",
            state.last_reconciliation.timestamp(),
        )
    health = GaugeMetricFamily(
        "orderhub_health_metric", "Latest daily value of each order health metric, overall.", labels=["metric"]
    )
    for metric, value in state.health.items():
        health.add_metric([metric], value)
    yield health
    failures = GaugeMetricFamily(
        "orderhub_scrape_failures", "Stores that did not answer this scrape.", labels=["store"]
    )
    for failure in state.failures:
        failures.add_metric([failure.split(":")[0]], 1)
    yield failures
