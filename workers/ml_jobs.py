"""Next-step prediction jobs: the nightly training run, and the prediction after each fulfilment event."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.clock import due, utcnow
from domain.outbox.service import Outbox
from domain.prediction.service import (
    NO_PREDICTION,
    RegistryIndex,
    StoredPrediction,
    record_run,
    registry_index,
    store_prediction,
    superseded,
)
from ml.features import QUEUE_SPAN, Timeline
from ml.model import Baseline
from ml.orders import order_event_log, order_steps
from ml.registry import Artifact, current, latest_baseline, train
from ml.serving import Forecast, forecast
from runtime import metrics
from runtime.process import Runtime
from workers.jobs import unit_of_work, woken_at

log = logging.getLogger(__name__)
SERVING_TTL_S = 60.0  # how stale the workload counts and the registry may be in a worker
WORKLOAD_WINDOW = timedelta(days=7) + QUEUE_SPAN  # covers every look-back of the features


def models_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir.resolve() / "models"


async def train_nightly(ctx: dict[str, Any], *, now: datetime | None = None) -> str | None:
    """The cron's entry: wakes hourly and trains once a night, in `training_hour` of the merchant's clock (the
    quiet hours of the merchant's own warehouses, whatever zone the worker's machine is set to)."""
    runtime: Runtime = ctx["runtime"]
    if not due(now or woken_at(ctx), runtime.settings.merchant_zone, runtime.settings.training_hour):
        return None
    return await train_next_step(ctx, now=now)


async def train_next_step(ctx: dict[str, Any], *, window_days: int = 90, now: datetime | None = None) -> str:
    """Trains on the orders paid within the window; the registry decides whether it is promoted and the run
    is recorded in `next_step_model`. Training runs in a thread so the worker keeps serving other jobs."""
    runtime: Runtime = ctx["runtime"]
    since = (now or utcnow()) - timedelta(days=window_days)
    events = await order_event_log(runtime.core.sessions, since=since)
    async with runtime.core.sessions() as session:
        index = await registry_index(session)
    tz = runtime.settings.merchant_timezone
    decision = await asyncio.to_thread(train, events, models_dir(runtime), "minutes", now, index=index, tz=tz)
    assert decision.run is not None
    async with unit_of_work(ctx) as session:
        await record_run(session, decision.run)
    serving_cache(ctx).state = None
    log.info("next-step model: %s", decision.reason)
    return decision.reason


@dataclass
class Serving:
    """What a worker predicts with, reloaded at most every SERVING_TTL_S."""

    artifact: Artifact | None
    baseline: Baseline | None
    timeline: Timeline
    loaded: float
    index: RegistryIndex | None = None  # what the registry said when loaded


@dataclass
class ServingCache:
    """arq gives each job a copy of its worker's ctx, so a value a job sets on ctx is gone after it (and every
    prediction reloaded a week of event log): the worker's ctx holds this one object, and jobs update it."""

    state: Serving | None = None
    refreshing: asyncio.Task[None] | None = None


def serving_cache(ctx: dict[str, Any]) -> ServingCache:
    cache: ServingCache = ctx.setdefault("next_step", ServingCache())
    return cache


async def serving(ctx: dict[str, Any], now: datetime | None = None) -> Serving:
    """The state jobs predict with. Only a worker's first job waits for it; once it is older than
    SERVING_TTL_S, jobs keep predicting with it while a background task reads the new one (a week of
    event log took the job that found it stale past 100 ms)."""
    cache = serving_cache(ctx)
    cached = cache.state
    if cached is None:
        cache.state = await _load(ctx, now)
        return cache.state
    if time.monotonic() - cached.loaded >= SERVING_TTL_S and cache.refreshing is None:
        cache.refreshing = asyncio.create_task(_refresh(ctx, cache), name="next-step-serving-refresh")
    return cached


async def _refresh(ctx: dict[str, Any], cache: ServingCache) -> None:
    try:
        fresh = await _load(ctx, previous=cache.state)
        if cache.state is not None:  # training cleared it meanwhile: the next job loads the new model
            cache.state = fresh
    except Exception:  # the stale state keeps serving; the next job past the TTL tries again
        log.exception("reloading the next-step model and workload failed")
    finally:
        cache.refreshing = None


async def _load(ctx: dict[str, Any], now: datetime | None = None, previous: Serving | None = None) -> Serving:
    """The registry's current model and the workload timeline. The model files are read again only when
    training changed what the registry points at: unpickling 600 trees holds the interpreter for a few
    hundred milliseconds, thread or not. The timeline is built in a thread."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.core.sessions() as session:
        index = await registry_index(session)
    directory = models_dir(runtime)
    if previous is not None and previous.index == index:
        artifact, baseline = previous.artifact, previous.baseline
    else:
        artifact = await asyncio.to_thread(current, directory, index.current) if index.current else None
        baseline = await asyncio.to_thread(latest_baseline, directory) if artifact is None else artifact.baseline
    recent = await order_event_log(runtime.core.sessions, since=(now or utcnow()) - WORKLOAD_WINDOW)
    timeline = await asyncio.to_thread(Timeline.of, recent, runtime.settings.merchant_timezone)
    return Serving(artifact, baseline, timeline, time.monotonic(), index)


async def predict_next_step(ctx: dict[str, Any], order_id: int, version: int) -> str:
    """Enqueued after each fulfilment move (`version`: the order's version after it); stores the forecast for
    the order as it is now, unless a later move enqueued its own job. Every odd order has an answer (see
    ml.serving).

    The forecast runs on the event loop, not in a thread overlapping the check for a later move: it
    takes about a millisecond, and a thread holding the interpreter while the database answers makes
    the loop wait for it (bench: 0.88 of the median job with the thread, 0.91 without, same machine)."""
    runtime: Runtime = ctx["runtime"]
    async with runtime.core.sessions() as session:
        if await superseded(session, order_id, version):
            return "superseded by a later move"
        steps = await order_steps(session, order_id)
    state = await serving(ctx)
    started = time.perf_counter()
    result = forecast(steps, state.timeline, state.artifact, state.baseline)
    elapsed = time.perf_counter() - started
    metrics.observe_prediction(elapsed, None if result is None else result.model_version, answered=result is not None)
    async with unit_of_work(ctx) as session:
        moved = timedelta(minutes=runtime.settings.push_eta_moved_minutes)
        changed = await store_prediction(session, Outbox(), order_id, stored(result), moved)
    outcome = "none" if result is None else f"{result.basis.lower()} {result.at.isoformat()}"
    return f"{outcome} ({'changed' if changed else 'unchanged'})"


def stored(result: Forecast | None) -> StoredPrediction:
    if result is None:
        return NO_PREDICTION
    return StoredPrediction(
        _utc(result.at), result.next_stage, _utc(result.low), _utc(result.high), result.model_version, result.basis
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
