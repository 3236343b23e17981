"""Commit-to-publish lag of the outbox relay under a batch load, and what a graceful stop leaves unsent.

    python -m bench.outbox [--quick] [--rate ORDERS_PER_S] [--seconds S] [--pg-url URL] [--redis-url URL]

The load is what `submitOrders` x100 commits, without HTTP or GraphQL: each commit carries the outbox rows
of 100 orders (a push and a deferred payment-deadline job each) and wakes the relay, as the API does,
in the same process and event loop as the relay. Phase 1 commits at the target rate for S seconds, waits
until everything is sent and reports `sent_at - created_at` over every row. Phase 2 commits a burst and
stops the runtime gracefully at once: a stop must leave 0 rows for the next commit. No baseline: the lag
is a latency, the figure is compared with itself before and after a change on the same machine. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import func, insert, select, text

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.clock import utcnow
from domain.db import migrate
from domain.outbox.models import OutboxMessage
from domain.settings import Settings
from runtime.process import Runtime, build_runtime

ORDERS_PER_COMMIT = 100
BURST_ORDERS = 5_000


def _rows(orders: int, start: int) -> list[dict[str, Any]]:
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for n in range(start, start + orders):
        payload = {"order_id": n, "version": 1, "status": "PENDING_PAYMENT", "event_id": f"{n}:1"}
        rows.append({"kind": "PUBLISH", "target": "orders", "payload": payload, "defer_seconds": 0, "created_at": now})
        rows.append({"kind": "JOB", "target": "check_payment_deadline", "payload": {"order_id": n},
                     "defer_seconds": 1800, "created_at": now})  # fmt: skip
    return rows


async def _commit(rt: Runtime, orders: int, start: int) -> None:
    async with rt.core.sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), _rows(orders, start))
    rt.relay.notify()


async def _unsent(rt: Runtime) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))  # type: ignore[union-attr]
    async with rt.core.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _all_sent(rt: Runtime) -> None:
    for _ in range(6000):
        if not await _unsent(rt):
            return
        await asyncio.sleep(0.1)


async def _load(rt: Runtime, rate: float, seconds: float) -> dict[str, Any]:
    commits = int(rate * seconds / ORDERS_PER_COMMIT)
    interval = ORDERS_PER_COMMIT / rate
    began = time.monotonic()
    for n in range(commits):
        await asyncio.sleep(max(0.0, began + n * interval - time.monotonic()))
        await _commit(rt, ORDERS_PER_COMMIT, n * ORDERS_PER_COMMIT)
    loaded = time.monotonic() - began
    await _all_sent(rt)
    drained = time.monotonic() - began
    lag = text(
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)),"
        " max(extract(epoch FROM sent_at - created_at)) FROM outbox"
    )
    async with rt.core.engine.connect() as conn:
        (p50, p99), worst = (await conn.execute(lag)).one()
    return {"orders": commits * ORDERS_PER_COMMIT, "orders_per_s": round(commits * ORDERS_PER_COMMIT / loaded),
            "lag_p50_s": round(p50, 3), "lag_p99_s": round(p99, 3), "lag_max_s": round(float(worst), 3),
            "all_sent_after_s": round(drained, 1)}  # fmt: skip


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(args.redis_url)
    await redis.flushdb()
    try:
        async with temporary_database(args.pg_url, "orderhub_bench_outbox") as url:
            await asyncio.to_thread(migrate, sqlalchemy_url(url))
            with tempfile.TemporaryDirectory() as data:
                secrets = {"identity_key": "bench-identity", "token_secret": "bench-token-secret-0123456789abcdef"}
                settings = Settings(
                    data_dir=Path(data), database_url=sqlalchemy_url(url), redis_url=args.redis_url, **secrets
                )
                rt = await build_runtime(settings, migrate=False)
                try:
                    print(f"phase 1: {args.rate:.0f} orders/s for {args.seconds:.0f} s", file=sys.stderr)
                    loaded = await _load(rt, args.rate, args.seconds)
                    print(f"phase 2: {BURST_ORDERS} orders in one burst, then a graceful stop", file=sys.stderr)
                    for start in range(0, BURST_ORDERS, ORDERS_PER_COMMIT):
                        await _commit(rt, ORDERS_PER_COMMIT, 10_000_000 + start)
                finally:
                    began = time.monotonic()
                    await rt.close()
                    stopped = time.monotonic() - began
                checker = await build_runtime(settings, migrate=False, relay=False)
                try:
                    left = await _unsent(checker)
                finally:
                    await checker.close()
    finally:
        await redis.flushdb()
        await redis.aclose()
    return {"bench": "outbox", **loaded, "burst_orders": BURST_ORDERS, "unsent_after_stop": left,
            "stop_s": round(stopped, 1)}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s of load instead of 30")
    parser.add_argument("--rate", type=float, default=500.0, help="orders per second (default 500)")
    parser.add_argument("--seconds", type=float, help="seconds of load")
    parser.add_argument("--pg-url", default=DEFAULT_ADMIN_URL, help="admin URL; a temporary database is made beside")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="flushed before and after")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    summary = asyncio.run(run(args))
    print(f"{'orders/s':>9} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'unsent after stop':>18} {'stop':>6}")
    print(f"{summary['orders_per_s']:>9} {summary['lag_p50_s']:>7}s {summary['lag_p99_s']:>7}s "
          f"{summary['lag_max_s']:>7}s {summary['unsent_after_stop']:>18} {summary['stop_s']:>5}s")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
