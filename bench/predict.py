"""Next-step prediction at scale: training on simulated history, per-order prediction latency, and the
prediction job's throughput against PostgreSQL.

Baseline, measured in the same run: the per-(stage, warehouse) median lookup, through the same feature
code and the same job, so the ratios show what the trees cost over the answer a person would give.
Usage: python -m bench.predict [--quick] [--events N] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import col

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.db import migrate_async
from domain.orders.models import Order, OrderEvent
from domain.prediction.service import record_run
from domain.settings import Settings
from ml.evaluate import Split, score
from ml.eventlog import Event, by_case
from ml.features import NAMES, Timeline
from ml.model import Baseline, NextStepModel
from ml.registry import Artifact, save
from ml.serving import forecast
from runtime.process import build_runtime
from sim.history import simulate_history
from workers.ml_jobs import SERVING_TTL_S, Serving, ServingCache, models_dir, predict_next_step, serving_cache

TZ = "Asia/Shanghai"
START = date(2026, 6, 1)
LATENCY_SAMPLE = 2000
JOB_ORDERS = 1000
BLOCK = 50
REDIS_URL = "redis://127.0.0.1:6379/13"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def history(events: int) -> list[Event]:
    orders = events // 6
    days = max(28, min(120, orders // 300))  # whole weeks in every slice of the split, as on a real floor
    return simulate_history(11, START, days, orders // days)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(runs: list[Callable[[], Any]]) -> list[float]:
    out = []
    for run in runs:
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure_latency(
    split: Split, cases: dict[str, list[Event]], timeline: Timeline, artifact: Artifact
) -> dict[str, float]:
    """One order at a time, as the job does: features from its steps, then the model (or the median)."""
    rng = random.Random(3)
    chosen = rng.sample(split.test, min(LATENCY_SAMPLE, len(split.test)))
    prefixes = [[e for e in cases[ex.case] if e.at <= ex.at] for ex in chosen]
    for prefix in prefixes[:50]:  # warm caches and lazy imports
        forecast(prefix, timeline, artifact)
    model_ms = latencies([lambda p=p: forecast(p, timeline, artifact) for p in prefixes])  # type: ignore[misc]
    base_ms = latencies([lambda p=p: forecast(p, timeline, None, artifact.baseline) for p in prefixes])  # type: ignore[misc]
    return {
        "model_p50_ms": percentile(model_ms, 0.5),
        "model_p99_ms": percentile(model_ms, 0.99),
        "baseline_p50_ms": percentile(base_ms, 0.5),
        "baseline_p99_ms": percentile(base_ms, 0.99),
    }


async def measure_jobs(admin_url: str, events: list[Event], artifact: Artifact, folder: Path) -> dict[str, float]:
    """The real job on PostgreSQL: read the order's log, predict, store and log the change, push it."""
    cases = by_case(events)
    shift = datetime.now(UTC).replace(tzinfo=None) - max(e.at for e in events)
    recent = sorted(cases, key=lambda c: cases[c][0].at)[-JOB_ORDERS:]
    async with temporary_database(admin_url, "orderhub_bench_predict") as url:
        await migrate_async(sqlalchemy_url(url))
        settings = Settings(database_url=sqlalchemy_url(url), redis_url=REDIS_URL, data_dir=folder)
        runtime = await build_runtime(settings, migrate=False, relay=False)
        try:
            ids = await _seed(runtime, cases, recent, shift)
            save(models_dir(runtime), artifact)
            async with runtime.core.sessions() as session, session.begin():
                run = {"version": artifact.version, "trained_at": datetime.now(UTC), "features": list(NAMES)}
                await record_run(session, run | {"metrics": {}, "promoted": True, "reason": "bench"})
            model_ctx: dict[str, Any] = {"runtime": runtime}
            warm, ids = ids[0], ids[1:]
            await predict_next_step(model_ctx, warm, 10**6)  # loads the model and the workload timeline once
            state = serving_cache(model_ctx).state
            assert state is not None
            state.loaded = math.inf  # neither measured side reloads midway (that is measured on its own below)
            median = Serving(None, artifact.baseline, state.timeline, state.loaded)
            base_ctx = {"runtime": runtime, "next_step": ServingCache(median)}
            # Blocks of each side in turn over the same orders: a shared machine's load changes by the
            # minute, and both sides must see the same. Each side's job changes the stored prediction.
            model, base = JobRun(), JobRun()
            for start in range(0, len(ids), BLOCK):
                await model.run(model_ctx, ids[start : start + BLOCK])
                await base.run(base_ctx, ids[start : start + BLOCK])
            base_stored = await _stored(runtime, ids, "BASELINE")
            # The worker's state goes stale every SERVING_TTL_S: the jobs meanwhile, while it reloads.
            state.loaded = time.monotonic() - SERVING_TTL_S
            reload = JobRun()
            await reload.run(model_ctx, ids[: len(ids) // 4])
            refreshing = serving_cache(model_ctx).refreshing
            if refreshing is not None:
                await refreshing
            reloaded = serving_cache(model_ctx).state
            assert reloaded is not None and reloaded is not state, "the stale state was not reloaded"
            model_stored = await _stored(runtime, ids[: len(ids) // 4], "MODEL")
        finally:
            await runtime.close()
    verified = (
        model.outcomes("model") == base.outcomes("baseline") == reload.outcomes("model") == 0
        and base_stored == len(ids) - base.none
        and model_stored == len(ids) // 4 - reload.none
    )
    return {
        "jobs": len(ids),
        "model_jobs_per_s": len(ids) / model.seconds,
        "baseline_jobs_per_s": len(ids) / base.seconds,
        "model_job_max_ms": max(model.times),
        "baseline_job_max_ms": max(base.times),
        "model_job_p99_ms": percentile(model.times, 0.99),
        "baseline_job_p99_ms": percentile(base.times, 0.99),
        "jobs_during_reload": len(ids) // 4,
        "job_max_ms_during_reload": max(reload.times),
        "stored_baseline": base_stored,
        "stored_model_after_reload": model_stored,
        "verified": verified,
    }


@dataclass
class JobRun:
    """Each job's time and what it answered."""

    times: list[float] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)

    async def run(self, ctx: dict[str, Any], ids: list[int]) -> None:
        for order_id in ids:
            begun = time.perf_counter()
            self.answers.append(await predict_next_step(ctx, order_id, 10**6))
            self.times.append((time.perf_counter() - begun) * 1000)

    @property
    def seconds(self) -> float:
        return sum(self.times) / 1000

    @property
    def none(self) -> int:
        return sum(a.startswith("none") for a in self.answers)

    def outcomes(self, basis: str) -> int:
        """Jobs that did not store a changed prediction of `basis` (nor answered none): 0 when all did."""
        return sum(not (a.startswith(basis + " ") and a.endswith("(changed)")) for a in self.answers) - self.none


async def _stored(runtime: Any, ids: list[int], basis: str) -> int:
    """Orders whose stored prediction came from `basis`: the jobs' work, counted in the database."""
    async with runtime.core.sessions() as session:
        query = select(func.count()).where(col(Order.id).in_(ids), Order.prediction_basis == basis)
        return int((await session.execute(query)).scalar_one())


async def _seed(runtime: Any, cases: dict[str, list[Event]], chosen: list[str], shift: timedelta) -> list[int]:
    """Orders cut at a random stage (so there is a next step to predict), their log as the floor wrote it."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    ids: list[int] = []
    async with runtime.core.sessions() as session, session.begin():
        for n, case in enumerate(chosen):
            trace = cases[case][: rng.randrange(1, 6)]
            first = trace[0]
            placed = (first.at + shift).replace(tzinfo=UTC)
            row = {
                "channel": first.channel, "channel_order_id": f"bench-{n}", "status": trace[-1].activity,
                "currency": "CNY", "items_amount": 9900, "shipping_amount": 0, "discount_amount": 0,
                "total_amount": 9900, "warehouse_code": first.group, "placed_at": placed, "paid_at": placed,
                "version": len(trace), "created_at": now, "updated_at": now,
            }  # fmt: skip
            order_id = (await session.execute(insert(Order).returning(Order.id), [row])).scalar_one()
            ids.append(int(order_id))
            await session.execute(
                insert(OrderEvent),
                [
                    {
                        "order_id": order_id, "version": v, "type": "ORDER_" + e.activity, "status": e.activity,
                        "source": "WMS", "actor": "bench", "occurred_at": (e.at + shift).replace(tzinfo=UTC),
                        "recorded_at": now, "inbound_message_id": None,
                        "data": {"warehouse_code": e.group, "operator": e.operator, "station": e.place,
                                 "carrier_code": e.carrier},
                    }
                    for v, e in enumerate(trace, start=1)
                ],
            )  # fmt: skip
    return ids


async def run(events_wanted: int, admin_url: str) -> dict[str, Any]:
    say(f"simulating about {events_wanted:,} events of fulfilment history")
    events = history(events_wanted)
    say(f"{len(events):,} events; building features")
    started = time.perf_counter()
    split = Split.of(events, tz=TZ)
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    baseline = Baseline().fit(split.train)
    baseline_s = time.perf_counter() - started
    say(f"features in {features_s:.1f} s; training on {len(split.train):,} examples")
    started = time.perf_counter()
    model = NextStepModel.fit(split.fit, split.calibration, split.validation)
    fit_s = time.perf_counter() - started
    report = score(model, baseline, split.test, "minutes")
    print(report.table())
    artifact = Artifact(1, model, baseline)
    cases = by_case(events)
    timeline = Timeline.of(events, TZ)
    say("per-order latency")
    gc.collect()
    gc.freeze()  # the bench's million events are not the worker's heap: keep their GC passes out of the timings
    latency = measure_latency(split, cases, timeline, artifact)
    say("prediction job on PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-predict-") as folder:
        jobs = await measure_jobs(admin_url, events, artifact, Path(folder))
    s = report.overall
    result = {
        "bench": "predict",
        "events": len(events),
        "examples_train": len(split.fit) + len(split.calibration),
        "features_s": round(features_s, 2),
        "fit_s": round(fit_s, 2),
        "baseline_fit_s": round(baseline_s, 3),
        "mae_model_min": round(s.mae_model, 2),
        "mae_baseline_min": round(s.mae_baseline, 2),
        "ratio": round(s.ratio, 4),
        "coverage90": round(s.coverage90, 4),
        **{k: round(v, 3) for k, v in latency.items()},
        "latency_p99_ratio": round(latency["model_p99_ms"] / latency["baseline_p99_ms"], 2),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in jobs.items()},
        "job_throughput_ratio": round(jobs["model_jobs_per_s"] / jobs["baseline_jobs_per_s"], 3),
        "job_ratio": round(jobs["model_jobs_per_s"] / jobs["baseline_jobs_per_s"], 3),
        "max_job_ms": round(max(jobs["model_job_max_ms"], jobs["job_max_ms_during_reload"]), 1),
    }
    print(f"training: features {features_s:.1f} s, trees {fit_s:.1f} s (median baseline {baseline_s:.2f} s)")
    print(
        f"latency per order: model p50 {latency['model_p50_ms']:.2f} ms, p99 {latency['model_p99_ms']:.2f} ms; "
        f"median lookup p50 {latency['baseline_p50_ms']:.3f} ms, p99 {latency['baseline_p99_ms']:.3f} ms"
    )
    print(
        f"prediction job: {jobs['model_jobs_per_s']:.0f} orders/s with the model, "
        f"{jobs['baseline_jobs_per_s']:.0f} with the median ({result['job_throughput_ratio']:.2f}x); longest job "
        f"{jobs['model_job_max_ms']:.1f} ms, {jobs['job_max_ms_during_reload']:.1f} ms while the state reloaded"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 60,000 events instead of 1,000,000")
    parser.add_argument("--events", type=int, help="how many events of history to train on")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    wanted = args.events or (60_000 if args.quick else 1_000_000)
    try:
        print(json.dumps(asyncio.run(run(wanted, args.admin_url))))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
