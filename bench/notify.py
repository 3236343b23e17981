"""Payment notifications per second through the WeChat Pay HTTP endpoint (RSA verify, AES-GCM decrypt,
record, post, check against the order), with 30% of them repeats, against raw asyncpg inserts of the same rows
in the same run. The API runs as one uvicorn process of its own, with its outbox relay, as in production.

Every notification pays an existing pending order, except 1% correctly signed but inconsistent ones
(underpaid, overpaid, wrong currency, cancelled order, unknown order). Zero double postings, zero orders paid
with a wrong amount or currency, and one exception per inconsistent notification are asserted, not just printed.
Then, unless --no-overhead, as many notifications again, for orders of their own, on two servers side by side,
one with metrics, JSON logs and request ids and one without (bench.overhead): `overhead_pct`.
Usage: python -m bench.notify [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
                              [--observability on|off] [--no-overhead]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from random import Random
from typing import Any

import asyncpg
import httpx

from bench.ingest import api_server, server_env
from bench.overhead import Overhead, observed_env, rounds, side_by_side
from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.db import migrate
from sim.payment_providers import WechatPayPlatform, wechat_transaction

CONCURRENCY = 16
TARGET_RATIO = 0.25
TARGET_OVERHEAD_PCT = 5.0
REPEATS = 0.3
INCONSISTENT = ("underpaid", "overpaid", "wrong_currency", "cancelled_order", "unknown_order")
EXPECTED_KIND = {
    "underpaid": "PAYMENT_AMOUNT_MISMATCH", "overpaid": "PAYMENT_AMOUNT_MISMATCH",
    "wrong_currency": "PAYMENT_CURRENCY_MISMATCH", "cancelled_order": "PAYMENT_ON_CLOSED_ORDER",
    "unknown_order": "UNMATCHED_PAYMENT",
}  # fmt: skip
PAID_WRONG = """SELECT count(*) FROM orders o WHERE o.status = 'PAID' AND o.total_amount <> COALESCE(
    (SELECT sum(a.amount) FROM order_adjustment a WHERE a.order_id = o.id AND a.currency = o.currency), 0)"""


def _traffic(
    unique: int, rng: Random, start: int = 0
) -> tuple[list[dict[str, Any]], list[tuple[str, str, int]], Counter[str]]:
    """Resources to notify, the orders they are meant for (number, status, total), and the inconsistent cases."""
    resources: list[dict[str, Any]] = []
    orders: list[tuple[str, str, int]] = []
    cases: Counter[str] = Counter()
    for i in range(start, start + unique):
        number, total = f"O{i:08d}", rng.randint(100, 50_000)
        case = INCONSISTENT[i // 100 % len(INCONSISTENT)] if i % 100 == 99 else ""
        cases[case or "exact"] += 1
        amount = {"underpaid": total - 1, "overpaid": total + 100}.get(case, total)
        if case != "unknown_order":
            orders.append((number, "CANCELLED" if case == "cancelled_order" else "PENDING_PAYMENT", total))
        currency = "USD" if case == "wrong_currency" else "CNY"
        resources.append(wechat_transaction(number, f"42{i:010d}", amount, currency=currency))
    return resources, orders, cases


async def _place_orders(url: str, orders: list[tuple[str, str, int]]) -> None:
    """The orders the payments are for, inserted directly: placing them is not what this bench measures."""
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            """INSERT INTO orders (channel, channel_order_id, status, currency, items_amount, shipping_amount,
                                   discount_amount, total_amount, placed_at, version, created_at, updated_at)
               VALUES ('TAOBAO', $1, $2, 'CNY', $3, 0, 0, $3, now(), 1, now(), now())""",
            orders,
        )
    finally:
        await conn.close()


async def _drive(requests: list[tuple[dict[str, str], bytes]], base: str) -> float:
    queue: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            headers, body = queue.get_nowait()
            response = await client.post("/payments/wechatpay/notify", content=body, headers=headers)
            assert response.status_code == 204, response.text

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


async def _raw_inserts(url: str, rows: list[tuple[str, int]]) -> float:
    pool = await asyncpg.create_pool(url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)

    async def worker() -> None:
        while not queue.empty():
            txn, amount = queue.get_nowait()
            await pool.execute(
                """INSERT INTO fund_voucher (provider, provider_txn_id, kind, amount, currency, status, raw,
                                             received_at, repeats)
                   VALUES ('raw', $1, 'PAYMENT', $2, 'CNY', 'CONFIRMED', '{}', now(), 0) ON CONFLICT DO NOTHING""",
                txn, amount,
            )  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    seconds = time.perf_counter() - started
    await pool.close()
    return seconds


def _notifications(
    platform: WechatPayPlatform, resources: list[dict[str, Any]], rng: Random
) -> tuple[list[tuple[dict[str, str], bytes]], list[tuple[str, int]], int]:
    """Signed requests with REPEATS of them resent, shuffled; the rows they post; how many are repeats."""
    now = int(time.time())
    originals = [(platform.notification(resource, timestamp=now), resource) for resource in resources]
    repeats = [rng.choice(originals) for _ in range(int(len(resources) * REPEATS / (1 - REPEATS)))]
    traffic = originals + repeats
    rng.shuffle(traffic)
    return [m for m, _ in traffic], [(r["transaction_id"], r["amount"]["total"]) for _, r in traffic], len(repeats)


async def _overhead(env: dict[str, str], tmp: Path, requests: list[tuple[dict[str, str], bytes]]) -> Overhead:
    """Half the requests to a server with observability on, half to one with it off, round by round on both at once."""
    middle = len(requests) // 2
    (tmp / "on").mkdir()
    (tmp / "off").mkdir()
    async with (
        api_server(observed_env(env, True), tmp / "on") as on,
        api_server(observed_env(env, False), tmp / "off") as off,
    ):
        sides = [
            [partial(_drive, list(part), server.url) for part in rounds(half)]
            for server, half in ((on, requests[:middle]), (off, requests[middle:]))
        ]
        return await side_by_side(sides[0], sides[1], (on.cpu_seconds, off.cpu_seconds))


async def run(unique: int, admin_url: str, observability: bool = True, overhead: bool = True) -> dict[str, object]:
    rng = Random(4)
    platform = WechatPayPlatform()
    resources, orders, cases = _traffic(unique, rng)
    requests, rows, repeated = _notifications(platform, resources, rng)
    extra_requests: list[tuple[dict[str, str], bytes]] = []
    extra_repeats = 0
    if overhead:
        extra, extra_orders, extra_cases = _traffic(unique, rng, start=unique)
        extra_requests, _, extra_repeats = _notifications(platform, extra, rng)
        orders, cases = orders + extra_orders, cases + extra_cases
    with tempfile.TemporaryDirectory() as tmp:
        async with temporary_database(admin_url, "orderhub_bench_notify") as url:
            await asyncio.to_thread(migrate, sqlalchemy_url(url))
            await _place_orders(url, orders)
            env = server_env(url, os.environ.get("ORDERHUB_REDIS_URL"), Path(tmp))
            env |= {
                "ORDERHUB_WECHATPAY_PLATFORM_PUBLIC_KEY_PATH": str(platform.write_public_key(Path(tmp) / "wechat.pem")),
                "ORDERHUB_WECHATPAY_PLATFORM_SERIAL": platform.serial,
                "ORDERHUB_WECHATPAY_APIV3_KEY": platform.apiv3_key,
            }
            async with api_server(observed_env(env, observability), Path(tmp)) as server:
                cpu_before = server.cpu_seconds()
                endpoint_s = await _drive(requests, server.url)
                cpu_after = server.cpu_seconds()
            measured = await _overhead(env, Path(tmp), extra_requests) if overhead else None
            raw_s = await _raw_inserts(url, rows)
            conn = await asyncpg.connect(url)
            try:
                posted = await conn.fetchval("SELECT count(*) FROM fund_voucher WHERE provider = 'wechatpay'")
                doubled = await conn.fetchval(
                    "SELECT count(*) FROM (SELECT provider_txn_id FROM fund_voucher WHERE provider = 'wechatpay' "
                    "GROUP BY provider_txn_id HAVING count(*) > 1) d"
                )
                counted = await conn.fetchval("SELECT sum(repeats) FROM fund_voucher WHERE provider = 'wechatpay'")
                recorded = await conn.fetchval("SELECT count(*) FROM inbound_message")
                paid_wrong = await conn.fetchval(PAID_WRONG)
                paid = await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'PAID'")
                opened = Counter(dict(await conn.fetch("SELECT kind, count(*) FROM order_exception GROUP BY kind")))
            finally:
                await conn.close()
    notified = unique * (2 if overhead else 1)
    assert doubled == 0 and posted == notified, f"double postings: {doubled}, posted {posted} of {notified}"
    assert counted == repeated + extra_repeats and recorded == len(requests) + len(extra_requests)
    expected = Counter(EXPECTED_KIND[case] for case in INCONSISTENT for _ in range(cases[case]))
    assert paid_wrong == 0 and paid == cases["exact"], f"paid {paid} of {cases['exact']}, {paid_wrong} wrongly"
    assert opened == expected, f"exceptions {dict(opened)} != {dict(expected)}"
    return {
        "bench": "notify",
        "notifications": len(requests),
        "repeats": repeated,
        "posted": posted,
        "double_postings": doubled,
        "inconsistent": sum(cases[case] for case in INCONSISTENT),
        "paid_with_wrong_amount_or_currency": paid_wrong,
        "endpoint_per_s": round(len(requests) / endpoint_s),
        "raw_asyncpg_per_s": round(len(rows) / raw_s),
        "ratio": round((len(requests) / endpoint_s) / (len(rows) / raw_s), 3),
        "api_cpu_ms_per_notification": None
        if cpu_before is None or cpu_after is None
        else round(1000 * (cpu_after - cpu_before) / len(requests), 2),
        "target_ratio": TARGET_RATIO,
        "verified": True,  # the counts above were asserted: every notification recorded, each posted once
        "observability": "on" if observability else "off",
        "overhead_notifications": len(extra_requests),
        "overhead_pct": None if measured is None else measured.pct,
        "overhead_api_cpu_pct": None if measured is None else measured.cpu_pct,
        "target_overhead_pct": TARGET_OVERHEAD_PCT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="700 unique notifications instead of 3,500")
    parser.add_argument("--admin-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL))
    parser.add_argument(
        "--observability", choices=("on", "off"), default="on", help="metrics, JSON logs, request ids (default on)"
    )
    parser.add_argument("--no-overhead", action="store_true", help="skip the observability overhead comparison")
    args = parser.parse_args()
    unique = 700 if args.quick else 3500
    result = asyncio.run(run(unique, args.admin_url, args.observability == "on", not args.no_overhead))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
