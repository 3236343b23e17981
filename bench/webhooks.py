"""Partner webhooks under load: committed events fanned out to 20 local endpoints, 10% of them failing or slow.

    python -m bench.webhooks [--quick] [--events N] [--pg-url URL] [--redis-url URL]

Each event is an order change committed with its outbox row, as the write path commits it; every one of the 20
endpoints (one partner key each) subscribes to it, so N events make N x 20 deliveries (500 events: 10,000). One
endpoint answers 500, one answers after 0.5 s; the other 18 at once. The endpoints run in a separate process
(uvicorn), the relay and one arq worker of the webhooks queue in this one. Measured: healthy deliveries per second
from the first commit to the last delivery, p99 from an event's commit to its first attempt (all endpoints, and
the healthy ones alone), lost (a healthy pair never received, or a failing pair never attempted) and duplicate ids
(one endpoint and event received under two webhook-ids). The baseline, in the same run: the same healthy
deliveries as bare signed posts (standardwebhooks + httpx, 64 at once) with no database, queue or log. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import insert, select
from standardwebhooks import Webhook

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.db import migrate
from domain.outbox.models import OutboxMessage
from domain.settings import Settings
from domain.webhooks import endpoints
from domain.webhooks.models import WebhookDelivery, WebhookEvent
from domain.webhooks.signing import new_secret
from runtime.process import Runtime, build_runtime
from runtime.queues import WEBHOOKS
from workers.settings import create_worker

ENDPOINTS = 20
FAILING, SLOW = 0, 1  # 10% of the endpoints
SLOW_S = 0.5
PER_COMMIT = 50
BASELINE_CONCURRENCY = 64


# The partner endpoints, in their own process.


def serve(port: int) -> None:
    import uvicorn

    received: list[tuple[int, str, str]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        status, answer = 200, b"ok"
        if path == "/stats":
            answer = json.dumps(received).encode()
        elif path == "/reset":
            received.clear()
        else:
            n = int(path.rsplit("/", 1)[1])
            headers = dict(scope["headers"])
            order = json.loads(body)["data"]["order"]
            received.append((n, headers.get(b"webhook-id", b"").decode(), order))
            if n == FAILING:
                status = 500
            elif n == SLOW:
                await asyncio.sleep(SLOW_S)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)


@contextlib.contextmanager
def endpoint_server() -> Any:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--serve", str(port)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{base}/reset", timeout=1)
            break
        time.sleep(0.1)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(10)


async def _received(base: str) -> list[tuple[int, str, str]]:
    async with httpx.AsyncClient(timeout=30) as client:
        return [tuple(r) for r in (await client.post(f"{base}/stats")).json()]  # type: ignore[misc]


# The baseline: bare signed posts.


async def baseline(base: str, events: int) -> float:
    secret = new_secret()
    signer = Webhook(secret)
    gate = asyncio.Semaphore(BASELINE_CONCURRENCY)
    healthy = [n for n in range(ENDPOINTS) if n not in (FAILING, SLOW)]
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=None)) as client:

        async def post(n: int, order: int) -> None:
            async with gate:
                body = json.dumps({"type": "order.status_changed", "timestamp": "now",
                                   "data": {"order": f"gid://orderhub/Order/{order}"}})  # fmt: skip
                at = datetime.now(UTC)
                headers = {"webhook-id": f"msg_{n}_{order}", "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": signer.sign(f"msg_{n}_{order}", at, body)}  # fmt: skip
                (await client.post(f"{base}/e/{n}", content=body, headers=headers)).raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(post(n, order) for order in range(events) for n in healthy))
        elapsed = time.perf_counter() - began
    await httpx.AsyncClient().post(f"{base}/reset")
    return len(healthy) * events / elapsed


# orderhub: commit, relay, worker, endpoints.


async def _register(rt: Runtime, base: str) -> None:
    admin = endpoints.Owner("staff:bench")
    async with rt.core.sessions() as session, session.begin():
        for n in range(ENDPOINTS):
            key = await issue_partner_key(session, f"partner-{n}", ["orders:read"])
            await endpoints.register(session, rt.core.vault, admin, url=f"{base}/e/{n}",
                                     event_types=["order.status_changed"], partner_key_id=key.id)  # fmt: skip


async def _commit(rt: Runtime, orders: range, committed: dict[int, datetime]) -> None:
    now = utcnow()
    rows = [
        {"kind": "PUBLISH", "target": "orders", "defer_seconds": 0, "created_at": now,
         "payload": {"order_id": n, "version": 1, "status": "PENDING_PAYMENT", "event_type": "ORDER_PLACED",
                     "buyer_uid": None, "warehouse_code": None, "predicted_next_at": None}}
        for n in orders
    ]  # fmt: skip
    async with rt.core.sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), rows)
    done = utcnow()
    committed.update({n: done for n in orders})
    rt.relay.notify()


async def _progress(rt: Runtime) -> list[tuple[int, str, int, datetime | None, datetime | None, int | None]]:
    query = select(
        WebhookDelivery.endpoint_id, WebhookDelivery.state, WebhookDelivery.attempts,
        WebhookDelivery.first_attempt_at, WebhookDelivery.delivered_at, WebhookEvent.order_id,
    ).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)  # type: ignore[arg-type]  # fmt: skip
    async with rt.core.sessions() as session:
        return [tuple(r) for r in (await session.execute(query)).all()]  # type: ignore[misc]


@contextlib.asynccontextmanager
async def _worker(rt: Runtime) -> AsyncIterator[None]:
    worker = create_worker(rt, WEBHOOKS, poll_delay=0.01)
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def measure(rt: Runtime, base: str, events: int) -> dict[str, Any]:
    await _register(rt, base)
    by_endpoint = {i: int(u.rsplit("/", 1)[1]) for i, u in await _endpoint_urls(rt)}
    committed: dict[int, datetime] = {}
    expected = events * ENDPOINTS
    async with _worker(rt):
        began = utcnow()
        for start in range(0, events, PER_COMMIT):
            await _commit(rt, range(start, min(events, start + PER_COMMIT)), committed)
        for _ in range(3000):
            rows = await _progress(rt)
            healthy_done = sum(1 for e, s, *_ in rows if by_endpoint[e] not in (FAILING, SLOW) and s == "DELIVERED")
            failing_tried = sum(1 for e, _s, _a, first, *_ in rows if by_endpoint[e] in (FAILING, SLOW) and first)
            if len(rows) == expected and healthy_done + failing_tried == expected:
                break
            await asyncio.sleep(0.2)
    received = await _received(base)
    healthy = [r for r in rows if by_endpoint[r[0]] not in (FAILING, SLOW)]
    last = max((r[4] for r in healthy if r[4] is not None), default=utcnow())
    waits = {r: (r[3] - committed[int(r[5] or 0)]).total_seconds() * 1000 for r in rows if r[3] is not None}
    ids: dict[tuple[int, str], set[str]] = defaultdict(set)
    for n, webhook_id, order in received:
        ids[(n, order)].add(webhook_id)
    healthy_pairs = {(n, f"gid://orderhub/Order/{o}") for o in range(events) for n in range(ENDPOINTS)
                     if n not in (FAILING, SLOW)}  # fmt: skip
    never_tried = sum(1 for r in rows if by_endpoint[r[0]] in (FAILING, SLOW) and r[3] is None)
    lost = len(healthy_pairs - ids.keys()) + never_tried + (expected - len(rows))
    return {
        "events": events,
        "deliveries": expected,
        "deliveries_per_s": round(len(healthy) / (last - began).total_seconds(), 1),
        "p99_first_attempt_ms": round(_p99(list(waits.values()))),
        "p99_first_attempt_healthy_ms": round(_p99([w for r, w in waits.items() if by_endpoint[r[0]] > SLOW])),
        "lost": lost,
        "duplicate_ids": sum(1 for found in ids.values() if len(found) > 1),
    }


async def _endpoint_urls(rt: Runtime) -> list[tuple[int, str]]:
    from domain.webhooks.models import WebhookEndpoint

    async with rt.core.sessions() as session:
        return [(int(i or 0), u) for i, u in (await session.execute(select(WebhookEndpoint.id, WebhookEndpoint.url)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(args.redis_url)
    await redis.flushdb()
    try:
        with endpoint_server() as base:
            floor = await baseline(base, args.events)
            async with temporary_database(args.pg_url, "orderhub_bench_webhooks") as url:
                await asyncio.to_thread(migrate, sqlalchemy_url(url))
                with tempfile.TemporaryDirectory() as data:
                    settings = Settings(
                        data_dir=Path(data), database_url=sqlalchemy_url(url), redis_url=args.redis_url,
                        identity_key="bench-identity", token_secret="bench-token-secret-0123456789abcdef",
                        vault_key="bench-vault", webhook_timeout_seconds=2.0, webhook_endpoint_concurrency=16,
                    )  # fmt: skip
                    rt = await build_runtime(settings, migrate=False)
                    try:
                        measured = await measure(rt, base, args.events)
                    finally:
                        await rt.close()
    finally:
        await redis.flushdb()
        await redis.aclose()
    ratio = measured["deliveries_per_s"] / floor
    return {"bench": "webhooks", **measured, "floor_posts_per_s": round(floor, 1), "ratio": round(ratio, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 events (1,000 deliveries) instead of 500")
    parser.add_argument("--events", type=int, help="events, each sent to all 20 endpoints")
    parser.add_argument("--pg-url", default=DEFAULT_ADMIN_URL, help="admin URL; a temporary database is made beside")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="flushed before and after")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    args.events = args.events or (50 if args.quick else 500)
    summary = asyncio.run(run(args))
    head = ("deliveries/s", "floor/s", "ratio", "p99 first", "p99 healthy", "lost", "dup ids")
    print("  ".join(head))
    print(f"{summary['deliveries_per_s']:>12} {summary['floor_posts_per_s']:>8} {summary['ratio']:>6} "
          f"{summary['p99_first_attempt_ms']:>8}ms {summary['p99_first_attempt_healthy_ms']:>10}ms "
          f"{summary['lost']:>5} {summary['duplicate_ids']:>8}")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
