"""Reconciliation at scale: N statement lines against N vouchers in PostgreSQL, from file to stored to-check list.

Baseline, measured in the same run: the bare full outer join of the same two CSV files in DuckDB.
Usage: python -m bench.reconcile [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import asyncpg
import duckdb

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.db import make_engine, make_session_factory, migrate_async
from domain.reconcile.bulk import import_and_reconcile_bank_csv
from domain.reconcile.statements.bank import BankColumns

DAY = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
PLANTED = ("AMOUNT_MISMATCH", "MISSING_IN_STATEMENT", "MISSING_IN_SYSTEM", "DUPLICATE_IN_STATEMENT")


def write_files(folder: Path, n: int, seed: int = 4) -> tuple[Path, Path, dict[str, int]]:
    """Vouchers and the bank's statement of the same day, with a few hundred planted differences."""
    rng = Random(seed)
    vouchers, statement = folder / "vouchers.csv", folder / "statement.csv"
    planted = dict.fromkeys(PLANTED, 0)
    with vouchers.open("w") as v, statement.open("w") as s:
        v.write("reference,amount,currency,provider_time\n")
        s.write("reference,booked_at,amount,currency,memo\n")
        for i in range(n):
            ref = f"LL{i:010d}"
            amount = rng.randint(100, 500_000)
            at = DAY + timedelta(seconds=i * 86_000 // n)
            local = (at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
            fault = PLANTED[(i // 2500) % 4] if i % 2500 == 7 else ""
            if fault:
                planted[fault] += 1
            if fault != "MISSING_IN_SYSTEM":
                v.write(f"{ref},{amount},CNY,{at.isoformat()}\n")
            if fault == "MISSING_IN_STATEMENT":
                continue
            stated = amount + 1 if fault == "AMOUNT_MISMATCH" else amount
            line = f"{ref},{local},{stated // 100}.{stated % 100:02d},CNY,O{i}\n"
            s.write(line * 2 if fault == "DUPLICATE_IN_STATEMENT" else line)
    return vouchers, statement, planted


async def load_vouchers(url: str, path: Path) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE v_stage (reference text, amount bigint, currency text, provider_time timestamptz)"
        )
        with path.open("rb") as source:
            await conn.copy_to_table("v_stage", source=source, format="csv", header=True)
        await conn.execute(
            """INSERT INTO fund_voucher (provider, provider_txn_id, kind, amount, currency, status, raw,
                                         provider_time, received_at, repeats)
               SELECT 'lianlian', reference, 'PAYMENT', amount, currency, 'CONFIRMED', '{}'::jsonb,
                      provider_time, provider_time + interval '3 seconds', 0 FROM v_stage"""
        )
        await conn.execute("ANALYZE fund_voucher")
    finally:
        await conn.close()


def duckdb_join(vouchers: Path, statement: Path) -> tuple[float, int]:
    con = duckdb.connect()
    started = time.perf_counter()
    count = con.execute(
        f"""SELECT count(*) FROM read_csv('{vouchers}', header=true) v
            FULL OUTER JOIN read_csv('{statement}', header=true) s ON v.reference = s.reference"""
    ).fetchone()
    seconds = time.perf_counter() - started
    con.close()
    assert count is not None
    return seconds, int(count[0])


async def run(n: int, admin_url: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        vouchers, statement, planted = write_files(Path(tmp), n)
        async with temporary_database(admin_url, "orderhub_bench_recon") as url:
            await migrate_async(sqlalchemy_url(url))
            await load_vouchers(url, vouchers)
            engine = make_engine(sqlalchemy_url(url))
            sessions = make_session_factory(engine)
            try:
                started = time.perf_counter()
                data = statement.read_bytes()
                async with sessions() as session, session.begin():
                    imported, [recon] = await import_and_reconcile_bank_csv(
                        session, statement.name, data, BankColumns(), provider="lianlian", tz="Asia/Shanghai",
                        uploaded_by="bench", trigger="bench",
                    )  # fmt: skip
                seconds = time.perf_counter() - started
            finally:
                await engine.dispose()
        baseline, joined = duckdb_join(vouchers, statement)
    assert recon.counts == {k: v for k, v in planted.items() if v}, (recon.counts, planted)
    return {
        "bench": "reconcile",
        "lines": imported.lines,
        "vouchers": n - planted["MISSING_IN_SYSTEM"],
        "to_check": sum(recon.counts.values()),
        "orderhub_s": round(seconds, 3),
        "duckdb_join_s": round(baseline, 3),
        "duckdb_rows": joined,
        "ratio": round(seconds / baseline, 2),
        "target": "orderhub_s <= 5 and ratio <= 4",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 lines instead of 1,000,000")
    parser.add_argument("--admin-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(50_000 if args.quick else 1_000_000, args.admin_url))))


if __name__ == "__main__":
    main()
