"""Shipment confirmations to the channels under failure: throughput, none lost, none twice, commit-to-confirmation.

    python -m bench.outbound [--quick] [--confirmations N] [--pg-url URL] [--redis-url URL]

A fake channel platform (sim/channel_servers.py, in its own process) serves Taobao, Douyin, WeChat Channels
and Amazon, checks every signature, and answers 20% of calls with a transient failure (half the channel's own
"busy" answer, half a gateway's HTML 502) and 5% with a rate limit (half a bare 429, half the channel's own
rate-limit answer). N shipped orders across the four channels each get their confirmation row and outbox job in
committed batches of 100, through `request_confirmation`, as the shipped rule does; one arq worker of the
outbound queue (its production slots, 50) sends them, retrying with the shortest back-off the outbox can defer (1 s).
The figures: confirmations per second from the first commit to the last confirmation; lost (rows not CONFIRMED,
or parcels the platform never accepted); confirmed twice (calls the platform got after it had accepted and
answered that parcel); p50/p99 commit-to-confirmation.

The floor, in the same run: the same number of parcels sent as bare signed HTTP calls (same signing, same httpx
client settings, the same concurrency as the worker's slots), each retried at once until the platform accepts
it, with no database, outbox or queue. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import insert
from sqlmodel import col, select

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.clock import utcnow
from domain.confirmations.answer import DONE, Answer
from domain.confirmations.channels import APIS
from domain.confirmations.models import ConfirmationState, ShipmentConfirmation
from domain.confirmations.parcel import Parcel, ParcelLine
from domain.confirmations.service import request_confirmation
from domain.db import migrate
from domain.orders.channels import Channel
from domain.orders.models import Order
from domain.outbox.service import Outbox
from domain.settings import Settings
from domain.shops.credentials import Credentials
from domain.shops.models import Shop
from domain.shops.service import set_credentials
from runtime.channel_calls import ChannelCalls
from runtime.process import Runtime, build_runtime
from runtime.queues import OUTBOUND
from sim.channel_servers import ShopKeys, make_server
from workers.settings import create_worker

CHANNELS = (Channel.TAOBAO, Channel.DOUYIN, Channel.WECHAT_CHANNELS, Channel.AMAZON)
BATCH = 100
TRANSIENT, RATE_LIMITED = 0.20, 0.05
KEYS = ShopKeys()
CREDENTIALS = Credentials(KEYS.app_key, KEYS.app_secret, KEYS.access_token, marketplace_id="A1VC38T7YXB528")


def _serve(port: int, seed: int) -> None:
    make_server(KEYS, transient_rate=TRANSIENT, rate_limit_rate=RATE_LIMITED, seed=seed, port=port).serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _platform(seed: int) -> tuple[Any, str]:
    port = _free_port()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, seed), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(1200):  # a spawned interpreter imports orderhub first: seconds on a busy machine
            try:
                await client.get(f"{url}/_stats")
                return process, url
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the fake channel platform did not start")


async def _stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        found: dict[str, Any] = (await client.get(f"{url}/_stats")).json()
        return found


def _order_rows(count: int) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {"channel": CHANNELS[n % 4].value, "channel_order_id": f"B{n:09d}", "status": "SHIPPED", "currency": "CNY",
         "items_amount": 9590, "shipping_amount": 0, "discount_amount": 0, "total_amount": 9590,
         "placed_at": now - timedelta(hours=6), "shipped_at": now, "tracking_number": f"SF{n:013d}",
         "carrier_code": "SF", "version": 3, "created_at": now, "updated_at": now}
        for n in range(count)
    ]  # fmt: skip


async def _prepare(rt: Runtime, count: int) -> list[int]:
    async with rt.core.sessions() as session, session.begin():
        for channel in CHANNELS:
            shop = Shop(channel=channel.value, code="bench", name=f"{channel.value} bench", created_at=utcnow())
            session.add(shop)
            await session.flush()
            assert shop.id is not None
            await set_credentials(session, rt.core.vault, shop.id, CREDENTIALS, "bench")
        for start in range(0, count, 1000):
            await session.execute(insert(Order), _order_rows(count)[start : start + 1000])
    async with rt.core.sessions() as session:
        return list((await session.exec(select(Order.id).order_by(col(Order.id)))).all())  # type: ignore[arg-type]


async def _commit_all(rt: Runtime, order_ids: list[int]) -> None:
    """What the shipped rule does for each order, in committed batches: the confirmation row and its job."""
    for start in range(0, len(order_ids), BATCH):
        outbox = Outbox()
        async with rt.core.sessions() as session, session.begin():
            orders = (
                await session.exec(select(Order).where(col(Order.id).in_(order_ids[start : start + BATCH])))
            ).all()
            for order in orders:
                await request_confirmation(session, outbox, order)
            await outbox.flush(session)
        rt.relay.notify()


async def _open_rows(rt: Runtime) -> int:
    async with rt.core.sessions() as session:
        query = select(ShipmentConfirmation.id).where(ShipmentConfirmation.state == ConfirmationState.PENDING)
        return len((await session.exec(query)).all())


async def _orderhub(rt: Runtime, count: int, url: str) -> dict[str, Any]:
    order_ids = await _prepare(rt, count)
    worker = create_worker(rt, OUTBOUND, poll_delay=0.05)
    running = asyncio.create_task(worker.async_run())
    began = time.monotonic()
    await _commit_all(rt, order_ids)
    committed = time.monotonic() - began
    while await _open_rows(rt):  # noqa: ASYNC110  (the rows are in the database; nothing here to wait on)
        await asyncio.sleep(0.25)
    elapsed = time.monotonic() - began
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    with contextlib.suppress(asyncio.CancelledError):  # a job caught mid-run by the cancel: its row is final already
        await worker.close()
    async with rt.core.sessions() as session:
        rows = list((await session.exec(select(ShipmentConfirmation))).all())
    lags = sorted((row.confirmed_at - row.created_at).total_seconds() for row in rows if row.confirmed_at is not None)
    stats = await _stats(url)
    confirmed = sum(1 for row in rows if row.state == ConfirmationState.CONFIRMED)
    return {
        "confirmations": count,
        "confirmations_per_s": round(count / elapsed, 1),
        "commit_s": round(committed, 1),
        "lost": (count - confirmed) + max(0, count - int(stats["accepted"])),
        "confirmed_twice": int(stats["repeats_after_success"]),
        "attempts": sum(row.attempts for row in rows),
        "bad_signatures": int(stats["bad_signatures"]),
        "p50_ms": round(1000 * lags[len(lags) // 2]) if lags else None,
        "p99_ms": round(1000 * lags[min(len(lags) - 1, int(len(lags) * 0.99))]) if lags else None,
    }


async def _floor(count: int, url: str, slots: int, seconds: float) -> dict[str, Any]:
    """Bare signed calls: sign, send, read, and at once again until the platform says done."""
    calls = ChannelCalls(seconds, max_connections=slots)
    gate = asyncio.Semaphore(slots)
    sent = 0

    async def confirm(n: int) -> None:
        nonlocal sent
        api = APIS[CHANNELS[n % 4]]
        parcel = Parcel(f"F{n:09d}", f"SF{n:013d}", "SF", utcnow(), (ParcelLine("SKU-1", 1),))
        async with gate:
            while True:
                sent += 1
                reply = await calls.send(url, api.build(parcel, CREDENTIALS, utcnow()))
                answer = reply if isinstance(reply, Answer) else api.read(reply)
                if answer.verdict in DONE:
                    return

    began = time.monotonic()
    await asyncio.gather(*(confirm(n) for n in range(count)))
    elapsed = time.monotonic() - began
    await calls.close()
    return {"floor_per_s": round(count / elapsed, 1), "floor_calls": sent}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(args.redis_url)
    await redis.flushdb()
    process, url = await _platform(seed=16)
    try:
        floor = await _floor(args.confirmations, url, OUTBOUND.max_jobs, 10.0)
        async with temporary_database(args.pg_url, "orderhub_bench_outbound") as db:
            await asyncio.to_thread(migrate, sqlalchemy_url(db))
            with tempfile.TemporaryDirectory() as data:
                settings = Settings(
                    data_dir=Path(data), database_url=sqlalchemy_url(db), redis_url=args.redis_url,
                    identity_key="bench-identity", token_secret="bench-token-secret-0123456789abcdef",
                    vault_key="bench-vault", taobao_api_url=url, douyin_api_url=url, wechat_api_url=url,
                    amazon_api_url=url, confirmation_backoff_seconds=1, confirmation_max_attempts=12,
                )  # fmt: skip
                rt = await build_runtime(settings, migrate=False)
                try:
                    measured = await _orderhub(rt, args.confirmations, url)
                finally:
                    await rt.close()
    finally:
        process.terminate()
        process.join(5)
        await redis.flushdb()
        await redis.aclose()
    ratio = round(measured["confirmations_per_s"] / floor["floor_per_s"], 3)
    return {"bench": "outbound", "transient_rate": TRANSIENT, "rate_limit_rate": RATE_LIMITED, **measured, **floor,
            "ratio_to_floor": ratio}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbound", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 confirmations instead of 10,000")
    parser.add_argument("--confirmations", type=int, help="how many shipped orders to confirm")
    parser.add_argument("--pg-url", default=DEFAULT_ADMIN_URL, help="admin URL; a temporary database is made beside")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="flushed before and after")
    args = parser.parse_args(argv)
    args.confirmations = args.confirmations or (1_000 if args.quick else 10_000)
    summary = asyncio.run(run(args))
    print(
        f"{'confirm/s':>10} {'floor/s':>8} {'ratio':>6} {'lost':>5} {'twice':>6} {'p50':>7} {'p99':>7} {'attempts':>9}"
    )
    print(f"{summary['confirmations_per_s']:>10} {summary['floor_per_s']:>8} {summary['ratio_to_floor']:>6} "
          f"{summary['lost']:>5} {summary['confirmed_twice']:>6} {summary['p50_ms']:>5}ms {summary['p99_ms']:>5}ms "
          f"{summary['attempts']:>9}")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
