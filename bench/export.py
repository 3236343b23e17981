"""The order export at scale on PostgreSQL: rows per second and peak resident memory at two sizes, ten times apart.

Each export is the real `orderhub export` CLI in a child process that reports its own peak RSS (VmHWM), so the
figure is the whole process: interpreter, migrations check, query, formatting, compression and file writes.
Baseline, measured in the same run on the same rows: a bare SELECT of the same orders streamed through an
asyncpg cursor and dropped, in a child process measured the same way.
Usage: python -m bench.export [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import asyncpg

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.db import migrate_async

START = datetime(2026, 11, 17, tzinfo=UTC)
DAYS = 7
BATCH = 50_000
ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("TAOBAO", "TMALL", "DOUYIN", "WECHAT_MINI", "WECHAT_CHANNELS", "AMAZON")
STATUSES = ("PAID", "SHIP_REQUESTED", "SHIPPED", "SHIPPED", "DELIVERED", "COMPLETED", "CANCELLED")
ORDER_COLUMNS = (
    "id", "channel", "channel_order_id", "status", "buyer_uid", "buyer_key_version", "currency", "items_amount",
    "shipping_amount", "discount_amount", "total_amount", "warehouse_code", "placed_at", "paid_at",
    "ship_requested_at", "shipped_at", "tracking_number", "carrier_code", "version", "created_at", "updated_at",
)  # fmt: skip

# A child process: run a module's main with argv, then print its peak RSS (KiB) and wall seconds as JSON.
MEASURE = """
import json, re, runpy, sys, time
started = time.perf_counter()
module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_module(module, run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
seconds = time.perf_counter() - started
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"peak_kib": peak, "seconds": seconds}))
"""


def order_records(n: int, seed: int = 8) -> Iterator[list[tuple[object, ...]]]:
    """Orders spread evenly over the week, in batches, so the loader never holds them all."""
    rng = Random(seed)
    step = timedelta(days=DAYS) / n
    batch: list[tuple[object, ...]] = []
    for i in range(1, n + 1):
        placed = START + step * (i - 1)
        status = STATUSES[i % len(STATUSES)]
        shipped = status in ("SHIPPED", "DELIVERED", "COMPLETED")
        items = rng.randint(990, 200_000)
        discount = items // 10 if i % 3 == 0 else 0
        batch.append((
            i, CHANNELS[i % len(CHANNELS)], f"{6900000000000000000 + i}", status, f"{rng.getrandbits(256):064x}", 1,
            "CNY", items, 0, discount, items - discount, f"WH-{i % 4:02d}", placed, placed + timedelta(minutes=2),
            placed + timedelta(hours=1) if status != "PAID" else None,
            placed + timedelta(hours=6) if shipped else None,
            f"SF{1400000000000 + i}" if shipped and i % 50 else None, "SF" if shipped else None, 4, placed, placed,
        ))  # fmt: skip
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def load(url: str, n: int) -> None:
    """Orders by COPY; each order's payment voucher and adjustment, and an exception on 2% of them, by
    INSERT ... SELECT from the orders, so the export's aggregates have real rows to join."""
    conn = await asyncpg.connect(url)
    try:
        for batch in order_records(n):
            await conn.copy_records_to_table("orders", records=batch, columns=ORDER_COLUMNS)
        await conn.execute(
            """INSERT INTO fund_voucher (id, provider, provider_txn_id, kind, order_ref, order_id, amount, currency,
                                         status, raw, received_at, repeats)
               SELECT id, 'wechatpay', 'WX' || id, 'PAYMENT', channel_order_id, id, total_amount, currency,
                      'CONFIRMED', '{}'::jsonb, paid_at, 0 FROM orders"""
        )
        await conn.execute(
            """INSERT INTO order_adjustment (order_id, voucher_id, amount, currency, actor, reason, created_at)
               SELECT id, id, total_amount, currency, 'provider', 'payment notified', paid_at FROM orders"""
        )
        await conn.execute(
            """INSERT INTO order_exception (kind, state, order_id, summary, opened_at, details)
               SELECT CASE WHEN id % 100 = 0 THEN 'SHIPPED_WITHOUT_TRACKING' ELSE 'STUCK_AFTER_SHIP_REQUEST' END,
                      CASE WHEN id % 200 = 0 THEN 'OPEN' ELSE 'RESOLVED' END, id, 'bench', placed_at, '{}'::jsonb
               FROM orders WHERE id % 50 = 0"""
        )
        for table in ("orders", "fund_voucher"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def measure(module: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, module, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bare_select(url: str, start: str, end: str) -> None:
    """The baseline's body: the same orders, streamed by a server-side cursor, each row dropped."""

    async def run() -> int:
        conn = await asyncpg.connect(url)
        rows = 0
        try:
            async with conn.transaction():
                query = "SELECT * FROM orders WHERE placed_at >= $1 AND placed_at < $2 ORDER BY placed_at, id"
                async for _ in conn.cursor(query, datetime.fromisoformat(start), datetime.fromisoformat(end),
                                           prefetch=2000):  # fmt: skip
                    rows += 1
        finally:
            await conn.close()
        return rows

    print(asyncio.run(run()), file=sys.stderr)


async def run(n: int, admin_url: str) -> dict[str, object]:
    sizes = (n // 10, n)
    async with temporary_database(admin_url, "orderhub_bench_export") as url:
        await migrate_async(sqlalchemy_url(url))
        print(f"loading {n} orders ...", file=sys.stderr)
        started = time.perf_counter()
        await load(url, n)
        print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")} | {
                "ORDERHUB_DATA_DIR": str(Path(tmp) / "data"),
                "ORDERHUB_DATABASE_URL": url,
            }
            results: dict[str, dict[str, float]] = {}
            for rows in sizes:
                end = (START + timedelta(days=DAYS) * rows / n).isoformat()
                period = ["--from", START.isoformat(), "--to", end]
                results[f"select_{rows}"] = measure("bench.export", ["--bare-select", url, START.isoformat(), end], env)
                for fmt in ("csv", "xlsx"):
                    out = Path(tmp) / f"orders-{rows}.{fmt}"
                    figures = measure("cli.main", ["export", *period, "--format", fmt, "--output", str(out)], env)
                    figures["bytes"] = out.stat().st_size
                    out.unlink()
                    results[f"{fmt}_{rows}"] = figures
                    print(f"{fmt} {rows}: {figures}", file=sys.stderr)
    small, large = sizes
    table = [f"{'what':<14}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'peak MiB':>10}{'MiB out':>9}"]
    for kind in ("select", "csv", "xlsx"):
        for rows in sizes:
            f = results[f"{kind}_{rows}"]
            table.append(f"{kind:<14}{rows:>10}{f['seconds']:>10.1f}{rows / f['seconds']:>10.0f}"
                         f"{f['peak_kib'] / 1024:>10.1f}{f.get('bytes', 0) / 2**20:>9.1f}")  # fmt: skip
    print("\n".join(table))
    summary: dict[str, object] = {"bench": "export", "orders": n, "sizes": list(sizes)}
    for kind in ("select", "csv", "xlsx"):
        big = results[f"{kind}_{large}"]
        summary[f"{kind}_rows_per_s"] = round(large / big["seconds"])
        summary[f"{kind}_peak_mib"] = [round(results[f"{kind}_{r}"]["peak_kib"] / 1024, 1) for r in sizes]
    for fmt in ("csv", "xlsx"):
        summary[f"{fmt}_ratio_to_select"] = round(
            (large / results[f"{fmt}_{large}"]["seconds"]) / (large / results[f"select_{large}"]["seconds"]), 3
        )
        growth = results[f"{fmt}_{large}"]["peak_kib"] - results[f"{fmt}_{small}"]["peak_kib"]
        summary[f"{fmt}_peak_growth_mib"] = round(growth / 1024, 1)
    summary["target"] = "peak under 200 MiB at 1,000,000 orders; peak growth small against 10x the rows"
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 orders instead of 1,000,000")
    parser.add_argument("--admin-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL))
    parser.add_argument("--bare-select", nargs=3, metavar=("URL", "FROM", "TO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_select:
        bare_select(*args.bare_select)
        return
    print(json.dumps(asyncio.run(run(100_000 if args.quick else 1_000_000, args.admin_url))))


if __name__ == "__main__":
    main()
