"""Order health at scale: the five metrics for one day of N orders and their events on PostgreSQL.

Synthetic rows are generated inside PostgreSQL (generate_series joined to a small table of event plans), then
orderhub's own reconciliation runs once so the voucher metric reads real to-check items. Measured: seconds to
compute all five metrics through orderhub's queries. Baseline, in the same run: one bare count(*) scan of each
table those metrics read. Every metric's numerator and denominator is checked against the planted counts.
Then the export's rows per second and peak resident memory at two sizes (`bench.export`, also runnable alone),
under "export" in the JSON line.
Usage: python -m bench.health [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.export import run as export_run
from bench.pgdb import DEFAULT_ADMIN_URL, server_version, set_aside, sqlalchemy_url, temporary_database
from domain.db import make_engine, make_session_factory, migrate_async
from domain.health.metrics import measure, measure_many
from domain.health.thresholds import Metric
from domain.health.windows import Window
from domain.orders.status import STAGE_BITS, OrderStatus, minimum_changes
from domain.reconcile.service import reconcile

DAY = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
CHANNELS = ("DOUYIN", "TAOBAO", "TMALL", "WECHAT_MINI", "WECHAT_CHANNELS", "AMAZON")
SOURCES = ("douyin", "taobao", "tmall", "wechat_mini", "wechat_channels", "amazon")
WAREHOUSES = ("WH-SH-01", "WH-GZ-01", "WH-BJ-01", "WH-CD-01")
TABLES = ("orders", "order_event", "statement_line", "fund_voucher", "recon_item", "order_customer_ref",
          "order_exception")  # fmt: skip

_FLOW = [("ORDER_PLACED", "PENDING_PAYMENT"), ("ORDER_PAID", "PAID"), ("SHIP_REQUESTED", "SHIP_REQUESTED"),
         ("ORDER_PICKED", "PICKED"), ("ORDER_PACKED", "PACKED"), ("ORDER_SHIPPED", "SHIPPED"),
         ("ORDER_DELIVERED", "DELIVERED")]  # fmt: skip
_DRIFT = [*_FLOW[:3], ("SHIP_REQUEST_WITHDRAWN", "PAID"), ("SHIP_REQUESTED", "SHIP_REQUESTED"), *_FLOW[3:6]]


def plan(p: int) -> list[tuple[str, str]]:
    """The events of an order by i % 100: 5% cancelled, 7% unpaid, then every stage, and 1% drift clicks."""
    if p < 5:
        return [_FLOW[0], ("ORDER_CANCELLED", "CANCELLED")]
    if p < 12:
        return _FLOW[:1]
    if p < 52:
        return _FLOW[: 2 + (p - 12) // 10]
    if p < 82:
        return _FLOW[:6]
    if p < 99:
        return _FLOW
    return _DRIFT


def truth(n: int) -> dict[str, tuple[int, int]]:
    paid = [i for i in range(1, n + 1) if i % 100 >= 12]
    wms = [i for i in paid if i % 100 >= 52]
    lost = sum(1 for i in paid if i % 5000 == 4077)
    exceptions = [i for i in range(1, n + 1) if i % 40 == 5]
    return {
        "STATUS_DRIFT": (2 * sum(1 for i in range(1, n + 1) if i % 100 == 99), n),
        "CHANNEL_ATTRIBUTION": (n - sum(1 for i in range(1, n + 1) if i % 250 == 3), n),
        "VOUCHER_MATCH": (len(paid) - lost, len(paid)),
        "ID_CONSISTENCY": (len(wms) - sum(1 for i in wms if i % 500 == 457), len(wms)),
        "EXCEPTION_CLOSURE": (sum(1 for i in exceptions if i % 3 != 0), len(exceptions)),
    }


LOADED = ("orders", "order_event", "order_customer_ref", "fund_voucher", "statement_line", "order_exception")


async def load(url: str, n: int) -> int:
    """Returns the statement's id. Everything is set-based, with the indexes built once at the end."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        rebuild = await set_aside(conn, LOADED, foreign_keys=True)
        await conn.execute(
            "CREATE TEMP TABLE plan (p int, version int, type text, status text, final text, changes int, "
            "minimum int, stages int, refs int)"
        )
        rows = []
        for p in range(100):
            steps = plan(p)
            stages = sum(STAGE_BITS.get(OrderStatus(s), 0) for _, s in steps)
            minimum = minimum_changes(OrderStatus.PENDING_PAYMENT, OrderStatus(steps[-1][1]), stages)
            refs = 0 if p < 12 else 1 if p < 52 else 2  # as record_customer_ref keeps them: ERP, then WMS too
            rows += [(p, v, t, s, steps[-1][1], len(steps) - 1, minimum, stages, refs)
                     for v, (t, s) in enumerate(steps, start=1)]  # fmt: skip
        await conn.copy_records_to_table("plan", records=rows)
        placed = "$1::timestamptz + make_interval(secs => g.i * 86000.0 / $2)"
        amount = "5000 + g.i % 7000"
        await conn.execute(
            f"""INSERT INTO orders (id, channel, channel_order_id, status, currency, items_amount, shipping_amount,
                  discount_amount, total_amount, warehouse_code, utm_source, utm_medium, landing_url, placed_at,
                  version, status_changes, min_status_changes, stages_entered, customer_refs, customer_ids_differ,
                  created_at, updated_at)
                SELECT g.i, (ARRAY{list(CHANNELS)})[g.i % 6 + 1], 'B' || g.i, pf.final, 'CNY', {amount}, 0, 0,
                  {amount}, (ARRAY{list(WAREHOUSES)})[g.i % 4 + 1],
                  CASE WHEN g.i % 250 = 3 THEN NULL ELSE (ARRAY{list(SOURCES)})[g.i % 6 + 1] END, 'social',
                  'https://shop.example/p' || (g.i % 50), {placed}, pf.events, pf.changes, pf.minimum, pf.stages,
                  pf.refs, CASE WHEN pf.refs = 2 AND g.i % 500 = 457 THEN 1 ELSE 0 END, {placed}, {placed}
                FROM generate_series(1, $2) g(i)
                JOIN (SELECT p, max(final) AS final, count(*) AS events, max(changes) AS changes,
                             max(minimum) AS minimum, max(stages) AS stages, max(refs) AS refs
                      FROM plan GROUP BY p) pf ON pf.p = g.i % 100""",
            DAY, n,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO order_event (order_id, version, type, status, source, actor, occurred_at, recorded_at, data)
                SELECT g.i, pl.version, pl.type, pl.status, 'SYSTEM', 'bench',
                       {placed} + make_interval(mins => pl.version), {placed} + make_interval(mins => pl.version),
                       '{{}}'::jsonb
                FROM generate_series(1, $2) g(i) JOIN plan pl ON pl.p = g.i % 100""",
            DAY, n,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO order_customer_ref (order_id, system, customer_id, customer_grade, reported_by, reported_at,
                  updated_at, reports)
                SELECT g.i, s.system, CASE WHEN s.system = 'WMS' AND g.i % 500 = 457 THEN 'W' ELSE 'C' END || g.i, NULL,
                       'bench', {placed}, {placed}, 1
                FROM generate_series(1, $2) g(i) JOIN (VALUES ('ERP', 12), ('WMS', 52)) s(system, from_p)
                  ON g.i % 100 >= s.from_p""",
            DAY, n,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO fund_voucher (provider, provider_txn_id, kind, order_ref, order_id, amount, currency,
                  status, raw, provider_time, received_at, repeats)
                SELECT 'lianlian', 'LL' || g.i, 'PAYMENT', 'B' || g.i, g.i, {amount}, 'CNY', 'CONFIRMED', '{{}}'::jsonb,
                       {placed} + interval '1 minute', {placed} + interval '63 seconds', 0
                FROM generate_series(1, $2) g(i) WHERE g.i % 100 >= 12 AND g.i % 5000 <> 4077""",
            DAY, n,
        )  # fmt: skip
        statement_id = await conn.fetchval(
            """INSERT INTO statement (provider, format, filename, content_hash, period_start, period_end, line_count,
                 uploaded_by, received_at)
               VALUES ('lianlian', 'bank', 'bench.csv', md5(random()::text), $1::timestamptz,
                       $1::timestamptz + interval '1 day', 0, 'bench', now())
               RETURNING id""",
            DAY,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO statement_line (statement_id, line_no, provider_txn_id, kind, order_ref, amount, currency,
                  occurred_at)
                SELECT $3, g.i, 'LL' || g.i, 'PAYMENT', 'B' || g.i, {amount}, 'CNY', {placed} + interval '1 minute'
                FROM generate_series(1, $2) g(i) WHERE g.i % 100 >= 12""",
            DAY, n, statement_id,
        )  # fmt: skip
        await conn.execute(
            f"""INSERT INTO order_exception (kind, state, order_id, summary, opened_at, resolved_at, resolver, details)
                SELECT (ARRAY['STUCK_AFTER_SHIP_REQUEST', 'DUPLICATE_SCAN', 'VOUCHER_CONFLICT'])[g.i % 3 + 1],
                       CASE WHEN g.i % 3 = 0 THEN 'OPEN' ELSE 'RESOLVED' END, g.i, 'bench', {placed},
                       CASE WHEN g.i % 3 = 0 THEN NULL ELSE {placed} + interval '2 hours' END, NULL, '{{}}'::jsonb
                FROM generate_series(1, $2) g(i) WHERE g.i % 40 = 5""",
            DAY, n,
        )  # fmt: skip
        for ddl in rebuild:
            await conn.execute(ddl)
        await conn.execute("ANALYZE")
        return int(statement_id)
    finally:
        await conn.close()


async def count_scan(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        for table in TABLES:
            await conn.fetchval(f"SELECT count(*) FROM {table}")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(n: int, admin_url: str) -> dict[str, object]:
    async with temporary_database(admin_url, "orderhub_bench_health") as url:
        await migrate_async(sqlalchemy_url(url))
        started = time.perf_counter()
        statement_id = await load(url, n)
        print(f"loaded {n} orders and their events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        engine = make_engine(sqlalchemy_url(url))
        sessions = make_session_factory(engine)
        try:
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                await reconcile(session, [statement_id], trigger="bench")
            print(f"reconciled the statement in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            await count_scan(url)  # warm the cache the same way for both sides
            baseline = await count_scan(url)
            window, now = Window(DAY, DAY + timedelta(days=1)), datetime.now(UTC)
            seconds: dict[str, float] = {}
            grouped_s: dict[str, float] = {}
            got: dict[str, tuple[int, int]] = {}
            async with sessions() as session:
                for metric in Metric:
                    for grouped, timing in ((False, seconds), (True, grouped_s)):
                        began = time.perf_counter()
                        counts = await measure(session, metric, window, now, grouped=grouped)
                        timing[metric.value] = time.perf_counter() - began
                        pair = (sum(c.numerator for c in counts), sum(c.denominator for c in counts))
                        if got.setdefault(metric.value, pair) != pair:
                            print(f"{metric}: grouped {pair} != overall {got[metric.value]}", file=sys.stderr)
                            raise SystemExit(1)
                # What the hourly snapshot runs: all five per channel and warehouse, the order metrics in one scan.
                began = time.perf_counter()
                together = await measure_many(session, Metric, window, now)
                by_dims = time.perf_counter() - began
                for metric, counts in together.items():
                    pair = (sum(c.numerator for c in counts), sum(c.denominator for c in counts))
                    if got[metric.value] != pair:
                        print(f"{metric}: all five at once {pair} != one by one {got[metric.value]}", file=sys.stderr)
                        raise SystemExit(1)
            version = await server_version(url)
        finally:
            await engine.dispose()
    want = truth(n)
    if got != want:
        print(f"wrong counts: {got} != {want}", file=sys.stderr)
        raise SystemExit(1)
    total, one_by_one = sum(seconds.values()), sum(grouped_s.values())
    print(f"{'metric':<22} {'numerator':>10} {'denominator':>12} {'overall s':>10} {'by channel+warehouse s':>23}")
    for name, (num, den) in got.items():
        print(f"{name:<22} {num:>10} {den:>12} {seconds[name]:>10.3f} {grouped_s[name]:>23.3f}")
    print(f"{'all five, one by one':<22} {'':>10} {'':>12} {total:>10.3f} {one_by_one:>23.3f}")
    print(f"{'all five at once':<22} {'':>10} {'':>12} {'':>10} {by_dims:>23.3f}")
    print(f"baseline: count(*) of {', '.join(TABLES)}: {baseline:.3f} s")
    return {
        "bench": "health",
        "orders": n,
        "postgresql": version,
        "metrics_s": round(total, 3),
        "per_metric_s": {k: round(v, 3) for k, v in seconds.items()},
        "by_channel_and_warehouse_s": round(by_dims, 3),
        "by_channel_and_warehouse_one_by_one_s": round(one_by_one, 3),
        "per_metric_by_channel_and_warehouse_s": {k: round(v, 3) for k, v in grouped_s.items()},
        "count_scan_s": round(baseline, 3),
        "ratio": round(total / baseline, 2),
        "verified": True,  # every numerator and denominator equals the planted counts (else exit 1 above)
        "target": "metrics_s < 5 and by_channel_and_warehouse_s <= 3",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 orders instead of 1,000,000")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--skip-export", action="store_true", help="leave out bench.export's figures")
    parser.add_argument("--admin-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    n = args.orders or (50_000 if args.quick else 1_000_000)
    figures = asyncio.run(run(n, args.admin_url))
    if not args.skip_export:
        figures["export"] = asyncio.run(export_run(100_000 if args.quick else 1_000_000, args.admin_url))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
