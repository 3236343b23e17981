"""Finding one order among N on PostgreSQL, as the console's search does: by channel order number, by tracking
number (the order's or a parcel's), and by the buyer's phone (hashed into its UIDs on the way in).

Synthetic rows are generated inside PostgreSQL (generate_series, the buyers' UIDs copied in from Python, where
they are keyed exactly as orderhub keys them), with the secondary indexes built once after the load. Measured:
random lookups through orderhub's own query (`domain.orders.queries.list_orders`, a page of 20 in a fresh
session, as the `orders(filter:)` resolver runs it; the phone first through `lookup.phone_buyers`), p50/p99 ms.
Baseline, in the same run and interleaved with them: a bare primary-key SELECT of one order over asyncpg (the
floor), and the same order by id through orderhub's session (`get_order`), which shows what the session and
the ORM add to any read whatever its WHERE clause.
Every answer is checked against the planted rows.
Usage: python -m bench.lookup [--quick] [--orders N] [--lookups N] [--admin-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import desc
from sqlmodel import col

from bench.health import WAREHOUSES
from bench.pgdb import DEFAULT_ADMIN_URL, server_version, set_aside, sqlalchemy_url, temporary_database
from domain.db import make_engine, make_session_factory, migrate_async
from domain.identity.service import BuyerIdentity
from domain.identity.uid import IdentityKey, derive_uid
from domain.orders import lookup, queries
from domain.orders.models import Order

DAY = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
CHANNELS = ("DOUYIN", "TAOBAO", "TMALL", "WECHAT_MINI", "WECHAT_CHANNELS", "AMAZON")
LOADED = ("orders", "parcel")
ORDERS_PER_BUYER = 4
PAGE = 20
IDENTITY = BuyerIdentity([IdentityKey(1, b"bench-identity-key-0123456789")])


def channel_order_id(i: int) -> str:
    return str(4102938475600000000 + i)


def shipped(i: int) -> bool:
    return i % 100 >= 40


def two_parcels(i: int) -> bool:
    return shipped(i) and i % 10 == 7


def tracking(i: int) -> str:
    """The order's current number; an order that left in two parcels also has `first_parcel(i)`."""
    return f"SF{1400000000000 + i}"


def first_parcel(i: int) -> str:
    return f"YT{7700000000000 + i}"


def phone(k: int) -> str:
    """Buyer k's mobile as a person types it; `e164` is what orderhub keys."""
    digits = f"{139_0000_0000 + k}"
    return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"


def e164(k: int) -> str:
    return f"+86{139_0000_0000 + k}"


async def load(url: str, n: int) -> None:
    buyers = max(1, n // ORDERS_PER_BUYER)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        rebuild = await set_aside(conn, LOADED, foreign_keys=False)
        await conn.execute("CREATE TEMP TABLE buyer (k int PRIMARY KEY, uid text)")
        await conn.copy_records_to_table(
            "buyer", records=[(k, derive_uid(e164(k), IDENTITY.current).value) for k in range(buyers)]
        )
        placed = "$1::timestamptz + make_interval(secs => g.i * 86000.0 / $2)"
        amount = "5000 + g.i % 7000"
        await conn.execute(
            f"""INSERT INTO orders (id, channel, channel_order_id, status, currency, items_amount, shipping_amount,
                  discount_amount, total_amount, warehouse_code, buyer_uid, buyer_key_version, placed_at, paid_at,
                  shipped_at, tracking_number, carrier_code, version, created_at, updated_at)
                SELECT g.i, (ARRAY{list(CHANNELS)})[g.i % 6 + 1], (4102938475600000000 + g.i)::text,
                  CASE WHEN g.i % 100 >= 40 THEN 'SHIPPED' ELSE 'PAID' END, 'CNY', {amount}, 0, 0, {amount},
                  (ARRAY{list(WAREHOUSES)})[g.i % 4 + 1], b.uid, 1, {placed}, {placed},
                  CASE WHEN g.i % 100 >= 40 THEN {placed} + interval '1 day' END,
                  CASE WHEN g.i % 100 >= 40 THEN 'SF' || (1400000000000 + g.i) END,
                  CASE WHEN g.i % 100 >= 40 THEN 'SF' END, 3, {placed}, {placed}
                FROM generate_series(1, $2) g(i) JOIN buyer b ON b.k = g.i % $3""",
            DAY, n, buyers,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO parcel (order_id, parcel_key, warehouse_code, carrier_code, tracking_number, items,
                  shipped_at, created_at)
                SELECT g.i, p.number, (ARRAY{list(WAREHOUSES)})[g.i % 4 + 1], left(p.number, 2), p.number,
                       '[{{"sku": "SKU-1", "quantity": 1}}]'::jsonb, {placed} + interval '1 day', {placed}
                FROM generate_series(1, $2) g(i)
                CROSS JOIN LATERAL (VALUES ('SF' || (1400000000000 + g.i), true),
                                           ('YT' || (7700000000000 + g.i), g.i % 10 = 7)) p(number, wanted)
                WHERE g.i % 100 >= 40 AND p.wanted""",
            DAY, n,
        )  # fmt: skip
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('orders', 'id'), {n})")
        for ddl in rebuild:
            await conn.execute(ddl)
        await conn.execute("ANALYZE orders")
        await conn.execute("ANALYZE parcel")
    finally:
        await conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def explain(url: str, n: int) -> dict[str, str]:
    """The plan of each lookup as orderhub sends it (with its page's ORDER BY id DESC LIMIT), for the README."""
    engine = make_engine(sqlalchemy_url(url))
    plans: dict[str, str] = {}
    i = (n // 200) * 100 + 47  # shipped in two parcels: looked up by the first one's number
    criteria = {
        "channel_order": queries.OrderFilter(channel_order_id=channel_order_id(i)),
        "tracking": queries.OrderFilter(tracking_number=first_parcel(i)),
        "phone": queries.OrderFilter(buyer_uids=lookup.phone_buyers(IDENTITY, phone(i % (n // ORDERS_PER_BUYER)))),
        "search": queries.OrderFilter(
            reference=phone(i % (n // ORDERS_PER_BUYER)),
            reference_buyer_uids=lookup.reference_buyers(IDENTITY, phone(i % (n // ORDERS_PER_BUYER))),
        ),
    }
    try:
        async with engine.connect() as conn:
            for name, f in criteria.items():
                statement = queries.filtered(queries.EVERYONE, f).order_by(desc(col(Order.id))).limit(PAGE + 1)
                sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
                rows = (await conn.exec_driver_sql("EXPLAIN " + sql)).all()
                plans[name] = "\n".join(r[0] for r in rows)
    finally:
        await engine.dispose()
    return plans


async def run(n: int, lookups: int, admin_url: str) -> dict[str, object]:
    buyers = max(1, n // ORDERS_PER_BUYER)
    async with temporary_database(admin_url, "orderhub_bench_lookup") as url:
        await migrate_async(sqlalchemy_url(url))
        started = time.perf_counter()
        await load(url, n)
        print(f"loaded {n} orders and their parcels in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        plans = await explain(url, n)
        for name, plan in plans.items():
            print(f"plan of the {name} lookup:\n{plan}", file=sys.stderr)
        engine = make_engine(sqlalchemy_url(url))
        sessions = make_session_factory(engine)
        bare = await asyncpg.connect(url)
        rng = random.Random(17)
        wrong: list[str] = []

        async def page(f: queries.OrderFilter) -> list[int]:
            async with sessions() as session:
                found = await queries.list_orders(session, queries.EVERYONE, f, queries.PageRequest(first=PAGE))
            return [row.id for row in found.rows if row.id is not None]

        async def by_channel_order(i: int) -> None:
            if await page(queries.OrderFilter(channel_order_id=channel_order_id(i))) != [i]:
                wrong.append(f"channel order {i}")

        async def by_tracking(i: int) -> None:
            number = first_parcel(i) if two_parcels(i) and rng.random() < 0.5 else tracking(i)
            if await page(queries.OrderFilter(tracking_number=number)) != [i]:
                wrong.append(f"tracking {number}")

        async def by_phone(i: int) -> None:
            k = i % buyers
            uids = lookup.phone_buyers(IDENTITY, phone(k))
            want = sorted((j for j in range(k or buyers, n + 1, buyers)), reverse=True)[:PAGE]
            if await page(queries.OrderFilter(buyer_uids=uids)) != want:
                wrong.append(f"phone of buyer {k}")

        async def by_search(i: int) -> None:
            """One search box, given in turn what the three exact lookups are given."""
            k, kind, shipped_one = i % buyers, i % 3, (i // 100) % (n // 100) * 100 + 47
            text = channel_order_id(i) if kind == 0 else phone(k) if kind == 1 else tracking(shipped_one)
            uids = lookup.reference_buyers(IDENTITY, text)
            got = await page(queries.OrderFilter(reference=text, reference_buyer_uids=uids))
            if kind == 1:
                ok = got == sorted(range(k or buyers, n + 1, buyers), reverse=True)[:PAGE]
            else:
                ok = got == [i if kind == 0 else shipped_one]
            if not ok:
                wrong.append(f"search {text}")

        async def by_pk(i: int) -> None:
            row = await bare.fetchrow("SELECT * FROM orders WHERE id = $1", i)
            if row is None or row["id"] != i:
                wrong.append(f"pk {i}")

        async def by_pk_in_session(i: int) -> None:
            async with sessions() as session:
                row = await queries.get_order(session, queries.EVERYONE, i)
            if row is None or row.id != i:
                wrong.append(f"pk in a session {i}")

        kinds: dict[str, Callable[[int], Awaitable[None]]] = {
            "channel_order": by_channel_order, "tracking": by_tracking, "phone": by_phone, "pk": by_pk,
            "search": by_search, "pk_session": by_pk_in_session,
        }  # fmt: skip
        timings: dict[str, list[float]] = {name: [] for name in kinds}
        try:
            for round_no in range(lookups + 50):  # the first 50 rounds warm the pool and the caches, untimed
                order = list(kinds.items())
                rng.shuffle(order)
                for name, lookup_one in order:
                    i = rng.randrange(1, n + 1)
                    if name == "tracking":  # a shipped order, a fifth of them among those that left in two parcels
                        offset = 47 if rng.random() < 0.2 else rng.randrange(40, 100)
                        i = rng.randrange(0, n // 100) * 100 + offset
                    began = time.perf_counter()
                    await lookup_one(i)
                    if round_no >= 50:
                        timings[name].append((time.perf_counter() - began) * 1000)
            version = await server_version(url)
        finally:
            await bare.close()
            await engine.dispose()
    if wrong:
        print(f"wrong answers ({len(wrong)}): {wrong[:10]}", file=sys.stderr)
        raise SystemExit(1)
    p50 = {k: statistics.median(v) for k, v in timings.items()}
    p99 = {k: percentile(v, 0.99) for k, v in timings.items()}
    print(f"{'lookup':<16} {'p50 ms':>8} {'p99 ms':>8} {'p99 / pk p99':>13}")
    for name in kinds:
        print(f"{name:<16} {p50[name]:>8.2f} {p99[name]:>8.2f} {p99[name] / p99['pk']:>13.1f}")
    worst = max(p99[k] for k in ("channel_order", "tracking", "phone", "search"))
    return {
        "bench": "lookup",
        "orders": n,
        "lookups": lookups,
        "postgresql": version,
        "channel_order_p50_ms": round(p50["channel_order"], 2),
        "channel_order_p99_ms": round(p99["channel_order"], 2),
        "tracking_p50_ms": round(p50["tracking"], 2),
        "tracking_p99_ms": round(p99["tracking"], 2),
        "phone_p50_ms": round(p50["phone"], 2),
        "phone_p99_ms": round(p99["phone"], 2),
        "search_p50_ms": round(p50["search"], 2),
        "search_p99_ms": round(p99["search"], 2),
        "pk_p50_ms": round(p50["pk"], 2),
        "pk_p99_ms": round(p99["pk"], 2),
        "pk_session_p50_ms": round(p50["pk_session"], 2),
        "pk_session_p99_ms": round(p99["pk_session"], 2),
        "ratio_to_floor": round(worst / p99["pk"], 2),
        "target": "every lookup p99 < 50 ms at 1,000,000 orders",
        "verified": True,  # every answer was the planted order(s) (else exit 1 above)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 orders instead of 1,000,000")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--lookups", type=int, default=None, help="timed lookups of each kind (default 1000)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("ORDERHUB_BENCH_DATABASE_URL")
        or os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL),
        help="an admin URL of the PostgreSQL server; the bench makes its own database beside it and drops it",
    )
    args = parser.parse_args()
    n = args.orders or (50_000 if args.quick else 1_000_000)
    print(json.dumps(asyncio.run(run(n, args.lookups or (300 if args.quick else 1000), args.admin_url))))


if __name__ == "__main__":
    main()
