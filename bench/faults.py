"""Trust at the edges: partner traffic through real processes while they are killed, Redis drops and
database connections are cut, plus randomized malformed input; then what the database says happened.

    python -m bench.faults [--quick] [--databases postgresql,sqlite] [--pg-url URL]

Per database (PostgreSQL with the bench's own redis-server; the embedded default, SQLite plus embedded
Redis in a temporary data directory), with `orderhub serve` and `orderhub worker` as OS processes:

1. malformed payloads (hypothesis; schemathesis over schema.graphql), on a calm system, each answer noted;
2. orders submitted with an Idempotency-Key and retried until acknowledged, each paid order's payment
   notification sent twice, while the faults fire at set points of progress (SIGKILL of the worker, the
   API and redis-server, pg_terminate_backend on the bench's database);
3. a clean restart of everything, the outbox drained, the inbound sweeper run; then the counts.

Figures are counts, not ratios: the target of each is 0 (`acknowledged` and `stored` aside). The last
line is one JSON object; the exit status is 1 when a target is missed or traffic never got through, 2 when
a process would not start (nothing was measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from bench.malformed import Malformed, malformed_requests
from bench.partners import PROVIDER, Answer, Observed, Partner, drive
from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from bench.processes import ProcessError, Stack, free_port
from domain.access.service import issue_partner_key
from domain.db import migrate
from domain.intake.sweeper import ABANDONED, fail_abandoned
from domain.settings import Settings
from runtime.core import Core, build_core
from sim.day import SimOrder, generate_day

SEED = 20261207
DAY = date(2026, 11, 24)
TARGETS = ("lost", "duplicated", "unrecorded", "without_outcome", "http_5xx")
SECRETS = {
    "ORDERHUB_IDENTITY_KEY": "faults-identity-key-0123456789abcdef",
    "ORDERHUB_TOKEN_SECRET": "faults-token-secret-0123456789abcdef",
    "ORDERHUB_VAULT_KEY": "faults-vault-key-0123456789abcdef",
}
WEBHOOK_SECRET = "faults-webhook-secret"
ORDER_CLIENTS = 8
MALFORMED_CLIENTS = 4
# Partners give up after this (the run then reports them `unfinished`): a minute plus a second per order.
TRAFFIC_BASE_S = 60
DRAIN_TIMEOUT_S = 15
REDIS_DOWN_S = 2.0
_MIGRATING = asyncio.Lock()
TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
)
PENDING = "SELECT count(*) FROM inbound_message WHERE outcome = 'PENDING'"


def note(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    orders: int
    raw_malformed: int
    schema_malformed: int
    databases: tuple[str, ...]
    admin_url: str
    quick: bool
    logs: Path | None


@dataclass(frozen=True)
class Fault:
    at: float  # share of the orders acknowledged when it fires
    name: str
    act: Callable[[], Awaitable[object]]


# ---------------------------------------------------------------- one database


@dataclass
class Run:
    """One database's run: its processes, its partner, what they saw."""

    kind: str
    stack: Stack
    partner: Partner
    observed: Observed
    admin_url: str
    database: str | None  # the PostgreSQL database name, for pg_terminate_backend

    def faults(self, quick: bool) -> list[Fault]:
        """Each kind once, the worker first so that it is back before Redis drops (surviving that is measured
        by its crash count); the full run kills the API a second time and cuts the connections again."""
        stack = self.stack
        faults = [Fault(0.15, "SIGKILL worker", lambda: stack.kill(stack.worker, down_for=1.0)),
                  Fault(0.3, "SIGKILL api", lambda: stack.kill(stack.api))]  # fmt: skip
        if stack.redis is not None:
            redis = stack.redis
            faults.append(Fault(0.5, "SIGKILL redis-server", lambda: stack.kill(redis, down_for=REDIS_DOWN_S)))
            faults.append(Fault(0.7, "pg_terminate_backend", self.terminate_connections))
        else:
            faults.append(Fault(0.5, "embedded redis-server SIGKILL", stack.kill_embedded_redis))
        if not quick:
            faults.append(Fault(0.8, "SIGKILL api", lambda: stack.kill(stack.api)))
            if stack.redis is not None:
                faults.append(Fault(0.9, "pg_terminate_backend", self.terminate_connections))
        return sorted(faults, key=lambda f: f.at)

    async def terminate_connections(self) -> int:
        conn = await asyncpg.connect(self.admin_url)
        try:
            return int(await conn.fetchval(TERMINATE, self.database))
        finally:
            await conn.close()

    async def traffic(self, orders: Sequence[SimOrder], quick: bool) -> list[str]:
        """Orders and payments from 8 clients; the faults fire as the acknowledged share passes their mark."""
        deadline = time.monotonic() + TRAFFIC_BASE_S + len(orders)
        done = asyncio.Event()
        fired: list[str] = []

        async def order_then_payment(order: SimOrder) -> None:
            if await self.partner.submit(order, deadline) and order.paid_at is not None:
                await self.partner.notify_payment(order, deadline)

        async def fire() -> None:
            for fault in self.faults(quick):
                # Progress is a count the partners keep; polling it is simpler than an event per order.
                while len(self.observed.acknowledged_orders) < fault.at * len(orders) and not done.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                if done.is_set():
                    return
                result = await fault.act()
                fired.append(fault.name if result is None else f"{fault.name} ({result})")
                note(f"{self.kind}: {fired[-1]} at {len(self.observed.acknowledged_orders)}/{len(orders)} orders")

        faults = asyncio.create_task(fire())
        try:
            await drive(orders, ORDER_CLIENTS, order_then_payment)
        finally:
            done.set()
            await faults
        return fired


async def run_database(
    kind: str, options: Options, orders: Sequence[SimOrder], drawing: Awaitable[list[Malformed]]
) -> dict[str, Any]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"orderhub-faults-{kind}-") as tmp:
        data_dir = Path(tmp)
        async with _database(kind, options.admin_url) as (db_url, database):
            env = _env(data_dir, db_url)
            redis_port = None
            if kind == "postgresql":
                redis_port = free_port()
                env["ORDERHUB_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            settings = _settings(env)
            async with _MIGRATING:  # alembic's context is process-global: one migration at a time
                await asyncio.to_thread(migrate, settings.resolved_database_url())
            core = await build_core(settings, migrate=False)
            log_dir = data_dir if options.logs is None else options.logs / kind
            log_dir.mkdir(parents=True, exist_ok=True)
            stack = Stack(env, log_dir, redis_port)
            try:
                api_key = await _issue_key(core)
                note(f"{kind}: starting api and worker")
                await stack.start()
                observed = Observed()
                junk = await drawing
                async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
                    run = Run(kind, stack, Partner(client, api_key, WEBHOOK_SECRET.encode(), observed), observed,
                              options.admin_url, database)  # fmt: skip
                    note(f"{kind}: {len(junk)} malformed requests")
                    await drive(junk, MALFORMED_CLIENTS, run.partner.send_malformed)
                    note(f"{kind}: {len(orders)} orders with payments, under faults")
                    fired = await run.traffic(orders, options.quick)
                note(f"{kind}: clean restart, outbox drain, inbound sweep")
                await stack.restart_all()
                unsent = await _drained(core)
                figures = await count(core, observed, unsent)
            finally:
                await stack.close()
                await core.close()
    crashes = sum(len(p.crashes) for p in stack.processes)
    figures |= {"crashes": crashes, "faults": fired, "processes": stack.exits(),
                "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
    return figures


@asynccontextmanager
async def _database(kind: str, admin_url: str) -> AsyncIterator[tuple[str | None, str | None]]:
    if kind == "sqlite":
        yield None, None
        return
    async with temporary_database(admin_url, "orderhub_faults") as url:
        yield url, url.rsplit("/", 1)[1]


def _env(data_dir: Path, db_url: str | None) -> dict[str, str]:
    """The caller's environment minus its ORDERHUB_* (which would point the processes elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env |= SECRETS | {
        "ORDERHUB_DATA_DIR": str(data_dir),
        "ORDERHUB_GRAPHIQL": "false",
        "ORDERHUB_OUTBOX_GRACE_SECONDS": "1",
        "ORDERHUB_PARTNER_COST_BUCKET": "0",  # the bench measures the pipeline under faults, not fair use
        "ORDERHUB_PAYMENT_WEBHOOK_SECRETS": json.dumps({PROVIDER: WEBHOOK_SECRET}),
    }
    if db_url is not None:
        env["ORDERHUB_DATABASE_URL"] = sqlalchemy_url(db_url)
    return env


def _settings(env: dict[str, str]) -> Settings:
    """The bench's own view of the processes' database (it only counts rows and issues the partner key)."""
    names = ("ORDERHUB_DATA_DIR", "ORDERHUB_DATABASE_URL", *SECRETS)
    return Settings(**{name.removeprefix("ORDERHUB_").lower(): env[name] for name in names if name in env})


async def _issue_key(core: Core) -> str:
    async with core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "faults-bridge", ["orders:write", "orders:read"])
    return issued.key


async def _drained(core: Core) -> int:
    """Waits for the restarted processes to send what the faults left in the outbox; returns what is left."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        async with core.engine.connect() as connection:
            unsent = await _scalar(connection, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        if unsent == 0 or time.monotonic() > deadline:
            return unsent
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------- counting


async def count(core: Core, observed: Observed, outbox_unsent: int) -> dict[str, Any]:
    """The database against what the partners were told."""
    pending_before = await _pending(core)
    async with core.sessions() as session, session.begin():
        # Every client has stopped and every process restarted: nothing is handling a PENDING row any more.
        swept = await fail_abandoned(session, timedelta(0))
    async with core.engine.connect() as connection:
        rows = await connection.execute(text("SELECT channel, channel_order_id, count(*) FROM orders GROUP BY 1, 2"))
        orders = {(r[0], r[1]): int(r[2]) for r in rows}
        vouchers = {r[0]: int(r[1]) for r in (await connection.execute(
            text("SELECT provider_txn_id, count(*) FROM fund_voucher WHERE provider = :p GROUP BY 1"), {"p": PROVIDER}
        )).all()}  # fmt: skip
        doubled_adjustments = await _scalar(connection, "SELECT count(*) FROM (SELECT voucher_id FROM order_adjustment "
                                            "GROUP BY voucher_id HAVING count(*) > 1) d")  # fmt: skip
        doubled_paid = await _scalar(connection, "SELECT count(*) FROM (SELECT order_id FROM order_event WHERE type = "
                                     "'ORDER_PAID' GROUP BY order_id HAVING count(*) > 1) d")  # fmt: skip
        inbound = (
            await connection.execute(text("SELECT natural_key, headers, outcome, error, kind FROM inbound_message"))
        ).all()
    by_key = {r[0]: r[2] for r in inbound if r[0] is not None}
    by_request_id = {_headers(r[1]).get("x-request-id"): r[2] for r in inbound}

    def outcome(answer: Answer) -> str | None:
        return by_key.get(answer.idempotency_key) or by_request_id.get(answer.request_id)

    unrecorded = [a for a in observed.answers if outcome(a) is None]
    malformed = [a for a in observed.answers if a.what.startswith("malformed:")]
    lost_orders = [k for k in observed.acknowledged_orders if k not in orders]
    lost_payments = [t for t in observed.acknowledged_payments if t not in vouchers]
    duplicated = (sum(1 for n in orders.values() if n > 1) + sum(1 for n in vouchers.values() if n > 1)
                  + doubled_adjustments + doubled_paid)  # fmt: skip
    return {
        "acknowledged": len(observed.acknowledged_orders),
        "stored": len(observed.acknowledged_orders) - len(lost_orders),
        "lost": len(lost_orders) + len(lost_payments),
        "duplicated": duplicated,
        "unrecorded": len(unrecorded),
        "without_outcome": await _pending(core),
        "http_5xx": len(observed.malformed_5xx),
        "payments_acknowledged": len(observed.acknowledged_payments),
        "pending_before_sweep": pending_before,
        "abandoned": swept,
        "outbox_unsent": outbox_unsent,
        "unfinished": len(observed.unfinished),
        "traffic_5xx": len(observed.traffic_5xx),
        "requests_answered": len(observed.answers),
        "no_answer": dict(observed.no_answer),
        "evidence": {
            "http_5xx_by_family": dict(Counter(f.split(":")[0] for f, _, _, _ in observed.malformed_5xx)),
            "http_5xx_samples": _samples(observed.malformed_5xx),
            "unrecorded_by": dict(Counter(f"{a.what} {a.status}" for a in unrecorded)),
            "abandoned_requests": [
                f"{r[4]} {_headers(r[1]).get('x-request-id')}" for r in inbound if r[3] == ABANDONED
            ][:10],
            "malformed_answers": dict(sorted(Counter(f"{_family(a)} {a.status}" for a in malformed).items())),
            "malformed_outcomes": dict(sorted(Counter(f"{_family(a)} {outcome(a)}" for a in malformed).items())),
            "traffic_5xx_samples": observed.traffic_5xx[:5],
            "refused_samples": observed.refused[:5],
            "lost_samples": [*lost_orders[:5], *lost_payments[:5]],
        },
    }


async def _scalar(connection: Any, sql: str) -> int:
    return int((await connection.execute(text(sql))).scalar_one())


async def _pending(core: Core) -> int:
    async with core.engine.connect() as connection:
        return await _scalar(connection, PENDING)


def _family(answer: Answer) -> str:
    """malformed:schema:Query.order -> schema"""
    return answer.what.split(":")[1]


def _headers(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _samples(failures: list[tuple[str, str, int, str]]) -> dict[str, list[str]]:
    """Up to three requests per family, with what was sent: enough to send them again by hand."""
    seen: dict[str, list[str]] = {}
    for family, request_id, status, sent in failures:
        samples = seen.setdefault(family.split(":")[0], [])
        if len(samples) < 3:
            samples.append(f"{request_id} {status} {family}: {sent}")
    return seen


# ---------------------------------------------------------------- report


def summary(options: Options, per_database: dict[str, dict[str, Any]], malformed: int) -> dict[str, Any]:
    totals = {key: sum(int(f[key]) for f in per_database.values()) for key in ("acknowledged", "stored", *TARGETS)}
    complete = all(f["unfinished"] == 0 for f in per_database.values())
    return {
        "bench": "faults",
        "quick": options.quick,
        "orders": options.orders,
        "malformed": malformed,
        "malformed_generators": "hypothesis + schemathesis",
        **totals,
        "targets": dict.fromkeys(TARGETS, 0),
        "verified": complete and all(totals[key] == 0 for key in TARGETS),
        "databases": per_database,
    }


def table(result: dict[str, Any]) -> str:
    names = list(result["databases"])
    keys = ["acknowledged", "stored", *TARGETS, "payments_acknowledged", "pending_before_sweep", "abandoned",
            "outbox_unsent", "crashes", "traffic_5xx", "unfinished", "seconds"]  # fmt: skip
    lines = [f"{'figure':<24}" + "".join(f"{n:>14}" for n in names), "-" * (24 + 14 * len(names))]
    lines += [f"{k:<24}" + "".join(f"{result['databases'][n][k]!s:>14}" for n in names) for k in keys]
    for name in names:
        figures = result["databases"][name]
        lines += ["", f"{name}: faults {', '.join(figures['faults'])}", f"{name}: processes {figures['processes']}"]
        lines += [f"{name}: {k} {v}" for k, v in figures["evidence"].items() if v]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 orders and 40 malformed requests per database")
    parser.add_argument("--orders", type=int, help="orders per database (overrides --quick)")
    parser.add_argument("--malformed", type=int, help="hypothesis payloads per database (schemathesis adds a third)")
    parser.add_argument("--databases", default="postgresql,sqlite", help="comma separated: postgresql, sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL),
                        help="admin URL; a temporary database is made beside it")  # fmt: skip
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in DIR/<database>/ (default: dropped)")
    args = parser.parse_args(argv)
    raw = args.malformed or (30 if args.quick else 300)
    databases = tuple(d.strip() for d in args.databases.split(",") if d.strip())
    if not set(databases) <= {"postgresql", "sqlite"}:
        parser.error("--databases takes postgresql and/or sqlite")
    return Options(
        args.orders or (60 if args.quick else 400), raw, raw // 3, databases, args.pg_url, args.quick, args.logs
    )


async def amain(options: Options) -> int:
    current = asyncio.current_task()
    assert current is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    orders = list(generate_day(SEED, DAY, options.orders).orders)
    # Drawn while the processes start; both databases get the same requests.
    drawing = asyncio.create_task(
        asyncio.to_thread(malformed_requests, options.raw_malformed, options.schema_malformed, SEED)
    )
    # The databases run side by side: most of a run is waiting for processes to (re)start. A task group, not
    # gather: on Ctrl-C or SIGTERM it waits for every run's cleanup (processes stopped, database dropped).
    try:
        async with asyncio.TaskGroup() as group:
            runs = {kind: group.create_task(run_database(kind, options, orders, drawing)) for kind in options.databases}
    except* ProcessError as failed:
        raise failed.exceptions[0] from None
    junk = drawing.result()
    note(f"{len(orders)} orders, {len(junk)} malformed requests ({Counter(m.family.split(':')[0] for m in junk)})")
    result = summary(options, {kind: run.result() for kind, run in runs.items()}, len(junk))
    print(table(result))
    print(json.dumps(result, default=str))
    return 0 if result["verified"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        return asyncio.run(amain(options))
    except KeyboardInterrupt:
        note("interrupted; processes stopped and database dropped")
        return 128 + signal.SIGINT
    except asyncio.CancelledError:
        note("terminated; processes stopped and database dropped")
        return 128 + signal.SIGTERM
    except ProcessError as error:
        note(f"could not measure: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
