"""Order ingest throughput through the real GraphQL submit mutations, against plain asyncpg in the same run.

    python -m bench.ingest [--quick] [--orders N] [--pg-url URL] [--observability on|off] [--no-overhead]

Absolute orders per second say more about the machine than about orderhub, so the figure that matters is
the ratio of the API's rate to a baseline measured seconds earlier on the same database server: plain
asyncpg writing the very rows the API writes (order, lines, events), one transaction per order. The API
runs as a real uvicorn server in a subprocess, as in production, so HTTP, JSON, GraphQL, the raw-body
record, authentication and the outbox all count. The last line printed is one JSON object for tooling.

Then, unless --no-overhead, the single-order phase again on two servers side by side, one with metrics, JSON
logs and request ids and one without (bench.overhead), on orders of their own: `overhead_pct`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from random import Random
from typing import Any, TypeVar

import asyncpg
import httpx
import redis.asyncio as aioredis
import redis.exceptions

from bench.overhead import Overhead, observed_env, rounds, side_by_side
from bench.pgdb import DEFAULT_ADMIN_URL, server_version, sqlalchemy_url, temporary_database
from domain.access.service import issue_partner_key
from domain.db import REPO_ROOT, migrate
from domain.identity.service import BuyerIdentity
from domain.settings import Settings
from runtime.core import build_core, identity_keys
from sim.day import CANCELLED, PAID, SimOrder, generate_day

T = TypeVar("T")

# 20,000 was the first plan; submitOrder runs at 55-60 orders/s on a 2-core machine, so that phase alone would
# take six minutes. 6,000 keeps the whole run near two minutes.
FULL_ORDERS = 6_000
QUICK_ORDERS = 1_500
SINGLE_CONCURRENCY = 8
BATCH_CONCURRENCY = 4
BATCH_SIZE = 100
TARGET_SINGLE_RATIO = 0.25
TARGET_BATCH_RATIO = 0.7
TARGET_OVERHEAD_PCT = 5.0
# Warm-up traffic (not timed) so that first-request costs, statement caches and pool growth are not
# billed to whichever phase happens to run first.
WARMUP_BASELINE = 100
WARMUP_SINGLE = 100
WARMUP_BATCH = 2 * BATCH_SIZE

SEED = 20261125
DAY = date(2026, 11, 24)
REDIS_URL = "redis://127.0.0.1:6379/14"
PARTNER = "bench"
ACTOR = f"partner:{PARTNER}"
# Fixed secrets: the run is throwaway, and fixed values keep buyer UIDs identical between baseline and API.
SECRETS = {
    "ORDERHUB_IDENTITY_KEY": "bench-identity-key-0123456789abcdef",
    "ORDERHUB_TOKEN_SECRET": "bench-token-secret-0123456789abcdef",
    "ORDERHUB_VAULT_KEY": "bench-vault-key-0123456789abcdef",
}
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 15

SUBMIT_ORDER = (
    "mutation Submit($input: OrderInput!) { submitOrder(input: $input) { order { id } userErrors { code } } }"
)
SUBMIT_ORDERS = (
    "mutation SubmitMany($input: SubmitOrdersInput!) "
    "{ submitOrders(input: $input) { orders { id } userErrors { code } } }"
)


class BenchError(RuntimeError):
    """The run cannot produce a trustworthy figure: a refused request, a lost order, a server that died."""


def note(message: str) -> None:
    """Progress goes to stderr so that stdout stays the table plus the final JSON line."""
    print(f"[ingest] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- workload


@dataclass(frozen=True)
class Workload:
    """Disjoint slices of one simulated day, so no phase ever resubmits (and short-circuits on) another's order."""

    baseline_warmup: tuple[SimOrder, ...]
    baseline: tuple[SimOrder, ...]
    single_warmup: tuple[SimOrder, ...]
    single: tuple[SimOrder, ...]
    batch_warmup: tuple[SimOrder, ...]
    batch: tuple[SimOrder, ...]
    overhead_warmup: tuple[SimOrder, ...] = ()  # half for each of the two servers, then half of the rest
    overhead: tuple[SimOrder, ...] = ()

    def api_orders(self) -> list[SimOrder]:
        return [*self.single_warmup, *self.single, *self.batch_warmup, *self.batch, *self.overhead_warmup,
                *self.overhead]  # fmt: skip

    def all_orders(self) -> list[SimOrder]:
        return [*self.baseline_warmup, *self.baseline, *self.api_orders()]


def make_workload(per_phase: int, overhead: bool = False) -> Workload:
    """One day, shuffled before slicing: the day is sorted by time, and every phase should get the same mix."""
    sizes = [WARMUP_BASELINE, per_phase, WARMUP_SINGLE, per_phase, WARMUP_BATCH, per_phase]
    sizes += [2 * WARMUP_SINGLE, per_phase] if overhead else [0, 0]
    orders = list(generate_day(SEED, DAY, sum(sizes)).orders)
    Random(SEED).shuffle(orders)
    slices: list[tuple[SimOrder, ...]] = []
    start = 0
    for size in sizes:
        slices.append(tuple(orders[start : start + size]))
        start += size
    return Workload(*slices)


def history(order: SimOrder) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """(event type, status after, occurred at, data) as OrderService writes them for a new order."""
    events: list[tuple[str, str, datetime, dict[str, Any]]] = [
        ("ORDER_PLACED", "PENDING_PAYMENT", order.placed_at, {"raw_status": None})
    ]
    if order.paid_at is not None:
        events.append(("ORDER_PAID", PAID, order.paid_at, {}))
    if order.final_status == CANCELLED and order.cancelled_at is not None:
        events.append(("ORDER_CANCELLED", CANCELLED, order.cancelled_at, {}))
    return events


# ---------------------------------------------------------------- concurrency


async def drive(items: Sequence[T], concurrency: int, send: Callable[[T], Awaitable[None]]) -> float:
    """Keep `concurrency` requests in flight until `items` run out; returns wall seconds.

    Workers pull from one shared iterator (safe: the event loop is single-threaded), so a slow request
    delays only its own worker, as with independent clients.
    """
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await send(item)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return time.perf_counter() - started


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class Timing:
    """Wall time plus where the CPU went: a busy server means Python-bound, an idle one means waiting on I/O."""

    seconds: float
    client_cpu_s: float
    server_cpu_s: float | None = None


async def timed(run: Awaitable[float], server: Server | None = None) -> Timing:
    server_before = server.cpu_seconds() if server else None
    client_before = time.process_time()
    seconds = await run
    client_cpu = time.process_time() - client_before
    server_after = server.cpu_seconds() if server else None
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    return Timing(seconds, client_cpu, server_cpu)


@dataclass(frozen=True)
class Phase:
    name: str
    orders: int
    requests: int
    concurrency: int
    timing: Timing

    def cpu_ms_per_order(self) -> float | None:
        cpu_s = self.timing.server_cpu_s
        return None if cpu_s is None else round(1000 * cpu_s / self.orders, 2)

    @property
    def rate(self) -> float:
        return self.orders / self.timing.seconds

    def cpu_share(self, cpu_s: float | None) -> str:
        return "-" if cpu_s is None else f"{cpu_s / self.timing.seconds:.0%}"


# ---------------------------------------------------------------- baseline


INSERT_ORDER = """
INSERT INTO orders (channel, channel_order_id, status, raw_status, buyer_uid, buyer_key_version, buyer_key_problem,
                    platform_buyer_id, currency, items_amount, shipping_amount, discount_amount, total_amount,
                    warehouse_code, placed_at, paid_at, cancelled_at, version, created_at, updated_at)
VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)
RETURNING id
"""
INSERT_LINE = """
INSERT INTO order_line (order_id, line_no, sku, title, quantity, unit_price, amount)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_EVENT = """
INSERT INTO order_event (order_id, version, type, status, source, actor, occurred_at, recorded_at,
                         inbound_message_id, data)
VALUES ($1, $2, $3, $4, 'CHANNEL', $5, $6, $7, NULL, $8::jsonb)
"""


@dataclass(frozen=True)
class BaselineRows:
    """Everything but ids and `now`, computed before timing: the baseline is the database's floor, not Python's."""

    order: tuple[Any, ...]
    lines: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


def baseline_rows(order: SimOrder, identity: BuyerIdentity) -> BaselineRows:
    buyer = identity.key_for_phone(order.buyer_phone)
    steps = history(order)
    values = (
        order.channel,
        order.channel_order_id,
        steps[-1][1],
        buyer.uid,
        buyer.key_version,
        buyer.problem,
        order.platform_buyer_id,
        order.currency,
        order.items_amount,
        order.shipping_amount,
        order.discount_amount,
        order.total_amount,
        order.warehouse_code,
        order.placed_at,
        order.paid_at,
        order.cancelled_at if steps[-1][1] == CANCELLED else None,
        len(steps),
    )
    lines = [(n, x.sku, x.title, x.quantity, x.unit_price, x.amount) for n, x in enumerate(order.lines, start=1)]
    events = [
        (version, kind, status, ACTOR, at, json.dumps(data))
        for version, (kind, status, at, data) in enumerate(steps, start=1)
    ]
    return BaselineRows(values, lines, events)


async def baseline_insert(pool: asyncpg.Pool, rows: BaselineRows) -> None:
    """One transaction per order, like a submitOrder: the order, then its lines and events."""
    async with pool.acquire() as conn, conn.transaction():
        now = datetime.now(UTC)
        order_id = await conn.fetchval(INSERT_ORDER, *rows.order, now)
        await conn.executemany(INSERT_LINE, [(order_id, *line) for line in rows.lines])
        await conn.executemany(INSERT_EVENT, [(order_id, *event[:5], now, event[5]) for event in rows.events])


async def run_baseline(db_url: str, workload: Workload, identity: BuyerIdentity) -> Phase:
    warmup = [baseline_rows(o, identity) for o in workload.baseline_warmup]
    measured = [baseline_rows(o, identity) for o in workload.baseline]
    pool = await asyncpg.create_pool(db_url, min_size=SINGLE_CONCURRENCY, max_size=SINGLE_CONCURRENCY)
    try:
        await drive(warmup, SINGLE_CONCURRENCY, lambda rows: baseline_insert(pool, rows))
        timing = await timed(drive(measured, SINGLE_CONCURRENCY, lambda rows: baseline_insert(pool, rows)))
    finally:
        await pool.close()
    return Phase("baseline asyncpg", len(measured), len(measured), SINGLE_CONCURRENCY, timing)


# ---------------------------------------------------------------- API server


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    log_path: Path

    def cpu_seconds(self) -> float | None:
        """User plus system CPU of the server process, to tell a CPU-bound API from one waiting on I/O."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(db_url: str, redis_url: str | None, data_dir: Path) -> dict[str, str]:
    """The caller's environment minus any ORDERHUB_* of theirs, which would point the server elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env.update(SECRETS)
    env["ORDERHUB_DATABASE_URL"] = sqlalchemy_url(db_url)
    env["ORDERHUB_DATA_DIR"] = str(data_dir)
    env["ORDERHUB_GRAPHIQL"] = "false"
    env["ORDERHUB_PARTNER_COST_BUCKET"] = "0"  # the bench measures the pipeline, not fair use
    if redis_url is not None:
        env["ORDERHUB_REDIS_URL"] = redis_url
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """The server's settings, read from the very variables it gets, so key and buyer UIDs match its own."""
    prefix = "ORDERHUB_"
    values: dict[str, Any] = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    return Settings(**values)


async def wait_healthy(server: Server, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise BenchError(f"API server exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise BenchError(f"API server not healthy after {SERVER_START_TIMEOUT_S}s:\n{server.log_tail()}")


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM lets uvicorn run the lifespan shutdown (outbox relay, engine, embedded redis); kill if it hangs."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), SERVER_STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@asynccontextmanager
async def api_server(env: dict[str, str], data_dir: Path) -> AsyncIterator[Server]:
    port = free_port()
    log_path = data_dir / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--port", str(port), "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO_ROOT, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process.pid, log_path)
    try:
        await wait_healthy(server, process)
        yield server
    finally:
        await stop(process)


async def issue_key(settings: Settings) -> str:
    """Through the domain service, as `orderhub token partner` does, without a second process start-up."""
    core = await build_core(settings, migrate=False)
    try:
        async with core.sessions() as session, session.begin():
            issued = await issue_partner_key(session, PARTNER, ["orders:write", "orders:read"])
    finally:
        await core.close()
    return issued.key


# ---------------------------------------------------------------- API phases


def single_body(order: SimOrder) -> bytes:
    return json.dumps({"query": SUBMIT_ORDER, "variables": {"input": order.as_input()}}).encode()


def batch_body(orders: Sequence[SimOrder]) -> bytes:
    variables = {"input": {"orders": [o.as_input() for o in orders]}}
    return json.dumps({"query": SUBMIT_ORDERS, "variables": variables}).encode()


def payload_of(response: httpx.Response, field: str) -> dict[str, Any]:
    """The mutation payload, or BenchError: a figure earned with refused requests would be meaningless."""
    if response.status_code != 200:
        raise BenchError(f"{field}: HTTP {response.status_code}: {response.text[:500]}")
    document = response.json()
    if document.get("errors"):
        raise BenchError(f"{field}: errors {document['errors']}")
    payload: dict[str, Any] = document["data"][field]
    if payload["userErrors"]:
        raise BenchError(f"{field}: userErrors {payload['userErrors']}")
    return payload


async def post(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    """A dead server (crash, or Ctrl-C reaching it first) ends the run with a clear message, not a traceback."""
    try:
        return await client.post("/graphql", content=content)
    except httpx.TransportError as error:
        raise BenchError(f"request to the API failed: {error!r}") from error


async def post_single(client: httpx.AsyncClient, body: bytes) -> None:
    payload = payload_of(await post(client, body), "submitOrder")
    if not payload["order"] or not payload["order"]["id"]:
        raise BenchError(f"submitOrder returned no order: {payload}")


async def post_batch(client: httpx.AsyncClient, body: tuple[int, bytes]) -> None:
    expected, content = body
    payload = payload_of(await post(client, content), "submitOrders")
    if len(payload["orders"]) != expected:
        raise BenchError(f"submitOrders returned {len(payload['orders'])} orders for {expected}")


def client_for(server: Server, key: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    return httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=120)


async def run_single(server: Server, key: str, workload: Workload) -> Phase:
    warmup = [single_body(o) for o in workload.single_warmup]
    bodies = [single_body(o) for o in workload.single]
    async with client_for(server, key, SINGLE_CONCURRENCY) as client:
        await drive(warmup, SINGLE_CONCURRENCY, lambda body: post_single(client, body))
        timing = await timed(drive(bodies, SINGLE_CONCURRENCY, lambda body: post_single(client, body)), server)
    return Phase("api submitOrder", len(bodies), len(bodies), SINGLE_CONCURRENCY, timing)


async def run_batch(server: Server, key: str, workload: Workload) -> Phase:
    warmup = [(len(c), batch_body(c)) for c in chunks(workload.batch_warmup, BATCH_SIZE)]
    bodies = [(len(c), batch_body(c)) for c in chunks(workload.batch, BATCH_SIZE)]
    async with client_for(server, key, BATCH_CONCURRENCY) as client:
        await drive(warmup, BATCH_CONCURRENCY, lambda body: post_batch(client, body))
        timing = await timed(drive(bodies, BATCH_CONCURRENCY, lambda body: post_batch(client, body)), server)
    orders = sum(n for n, _ in bodies)
    return Phase(f"api submitOrders x{BATCH_SIZE}", orders, len(bodies), BATCH_CONCURRENCY, timing)


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verification:
    problems: list[str]
    summary: str


def api_requests(workload: Workload) -> int:
    singles = len(workload.single_warmup) + len(workload.single) + len(workload.overhead_warmup)
    singles += len(workload.overhead)
    return singles + len(chunks(workload.batch_warmup, BATCH_SIZE)) + len(chunks(workload.batch, BATCH_SIZE))


async def verify(db_url: str, workload: Workload) -> Verification:
    """Every order sent is stored exactly once, with all its lines and events; every request is closed APPLIED."""
    sent = workload.all_orders()
    conn = await asyncpg.connect(db_url)
    try:
        stored = Counter((r[0], r[1]) for r in await conn.fetch("SELECT channel, channel_order_id FROM orders"))
        lines = int(await conn.fetchval("SELECT count(*) FROM order_line"))
        events = int(await conn.fetchval("SELECT count(*) FROM order_event"))
        outcomes = {
            str(r[0]): int(r[1]) for r in await conn.fetch("SELECT outcome, count(*) FROM inbound_message GROUP BY 1")
        }
    finally:
        await conn.close()
    expected = Counter((o.channel, o.channel_order_id) for o in sent)
    problems = []
    if stored != expected:
        missing, extra = expected - stored, stored - expected
        problems.append(f"orders: {len(missing)} missing, {len(extra)} unexpected or duplicated")
    want_lines, want_events = sum(len(o.lines) for o in sent), sum(len(history(o)) for o in sent)
    if lines != want_lines:
        problems.append(f"order_line: {lines} rows, expected {want_lines}")
    if events != want_events:
        problems.append(f"order_event: {events} rows, expected {want_events}")
    if outcomes != {"APPLIED": api_requests(workload)}:
        problems.append(f"inbound_message outcomes {outcomes}, expected APPLIED: {api_requests(workload)}")
    summary = f"{sum(stored.values())} orders, {lines} lines, {events} events stored for {len(sent)} sent; {outcomes}"
    return Verification(problems, summary)


# ---------------------------------------------------------------- redis


async def reachable_redis(url: str) -> str | None:
    """The machine's Redis, emptied (db 14 is the bench's own), or None to let orderhub embed one."""
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.flushdb()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return None
    finally:
        await client.aclose()
    return url


async def flush_redis(url: str | None) -> None:
    """Drop the arq jobs (payment deadlines) the run enqueued, so they never fire against a dropped database."""
    if url is None:
        return
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            await client.flushdb()
    finally:
        await client.aclose()


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Report:
    per_phase: int
    quick: bool
    context: str
    baseline: Phase
    single: Phase
    batch: Phase
    verification: Verification
    observability: bool = True
    overhead: Overhead | None = None

    def ratio(self, phase: Phase) -> float:
        return phase.rate / self.baseline.rate

    def table(self) -> str:
        head = f"{'phase':<24}{'orders':>8}{'requests':>10}{'conc':>6}{'seconds':>9}{'orders/s':>10}"
        head += f"{'ratio':>8}{'api cpu':>9}{'bench cpu':>11}"
        rows = [head, "-" * len(head)]
        for p in (self.baseline, self.single, self.batch):
            rows.append(
                f"{p.name:<24}{p.orders:>8}{p.requests:>10}{p.concurrency:>6}{p.timing.seconds:>9.2f}"
                f"{p.rate:>10.1f}{self.ratio(p):>8.3f}{p.cpu_share(p.timing.server_cpu_s):>9}"
                f"{p.cpu_share(p.timing.client_cpu_s):>11}"
            )
        verdict = "ok" if not self.verification.problems else "FAILED: " + "; ".join(self.verification.problems)
        targets = f"targets: single ratio >= {TARGET_SINGLE_RATIO}, batch ratio >= {TARGET_BATCH_RATIO}"
        rows += ["", f"verification {verdict}: {self.verification.summary}", targets]
        if self.overhead is not None:
            o = self.overhead
            rows.append(
                f"observability overhead on submitOrder: {o.pct:+.1f}% wall ({o.on_seconds:.2f} s on, "
                f"{o.off_seconds:.2f} s off), {o.cpu_pct if o.cpu_pct is not None else 'n/a'}% API CPU; "
                f"target <= {TARGET_OVERHEAD_PCT}%"
            )
        return "\n".join([self.context, "", *rows])

    def summary(self) -> dict[str, Any]:
        return {
            "bench": "ingest",
            "orders": self.per_phase,
            "quick": self.quick,
            "baseline_orders_per_s": round(self.baseline.rate, 1),
            "single_orders_per_s": round(self.single.rate, 1),
            "batch_orders_per_s": round(self.batch.rate, 1),
            "single_ratio": round(self.ratio(self.single), 3),
            "batch_ratio": round(self.ratio(self.batch), 3),
            # CPU of the API process per order: steadier than the ratios on a machine shared with other work
            "single_api_cpu_ms_per_order": self.single.cpu_ms_per_order(),
            "batch_api_cpu_ms_per_order": self.batch.cpu_ms_per_order(),
            "target_single_ratio": TARGET_SINGLE_RATIO,
            "target_batch_ratio": TARGET_BATCH_RATIO,
            "verified": not self.verification.problems,
            "observability": "on" if self.observability else "off",
            "overhead_pct": None if self.overhead is None else self.overhead.pct,
            "overhead_api_cpu_pct": None if self.overhead is None else self.overhead.cpu_pct,
            "target_overhead_pct": TARGET_OVERHEAD_PCT,
        }


# ---------------------------------------------------------------- main


@dataclass(frozen=True)
class Options:
    per_phase: int
    quick: bool
    admin_url: str
    observability: bool = True
    overhead: bool = True


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_ORDERS} orders per phase instead of {FULL_ORDERS}"
    )
    parser.add_argument("--orders", type=int, help="orders per measured phase (overrides --quick)")
    parser.add_argument("--pg-url", default=DEFAULT_ADMIN_URL, help="admin URL; a temporary database is made beside")
    parser.add_argument(
        "--observability", choices=("on", "off"), default="on", help="metrics, JSON logs, request ids (default on)"
    )
    parser.add_argument("--no-overhead", action="store_true", help="skip the observability overhead comparison")
    args = parser.parse_args(argv)
    per_phase = args.orders or (QUICK_ORDERS if args.quick else FULL_ORDERS)
    if per_phase < BATCH_SIZE:
        parser.error(f"--orders must be at least {BATCH_SIZE}")
    return Options(per_phase, args.quick, args.pg_url, args.observability == "on", not args.no_overhead)


async def run_api(env: dict[str, str], settings: Settings, data_dir: Path, workload: Workload) -> tuple[Phase, Phase]:
    key = await issue_key(settings)
    async with api_server(env, data_dir) as server:
        note("api: submitOrder, one order per request")
        single = await run_single(server, key, workload)
        note(f"api: submitOrders, {BATCH_SIZE} orders per request")
        batch = await run_batch(server, key, workload)
    return single, batch


async def run_overhead(env: dict[str, str], settings: Settings, data_dir: Path, workload: Workload) -> Overhead:
    """submitOrder on two servers, observability on and off, round by round on both at once."""
    key = await issue_key(settings)
    half = len(workload.overhead_warmup) // 2
    warmups = (workload.overhead_warmup[:half], workload.overhead_warmup[half:])
    middle = len(workload.overhead) // 2
    traffic = (workload.overhead[:middle], workload.overhead[middle:])
    (data_dir / "on").mkdir()
    (data_dir / "off").mkdir()
    async with (
        api_server(observed_env(env, True), data_dir / "on") as on,
        api_server(observed_env(env, False), data_dir / "off") as off,
    ):
        clients = (client_for(on, key, SINGLE_CONCURRENCY), client_for(off, key, SINGLE_CONCURRENCY))
        try:
            sides: list[list[Callable[[], Awaitable[float]]]] = []
            for client, warmup, orders in zip(clients, warmups, traffic, strict=True):
                await drive([single_body(o) for o in warmup], SINGLE_CONCURRENCY, partial(post_single, client))
                sides.append(
                    [
                        partial(drive, [single_body(o) for o in part], SINGLE_CONCURRENCY, partial(post_single, client))
                        for part in rounds(orders)
                    ]
                )
            return await side_by_side(sides[0], sides[1], (on.cpu_seconds, off.cpu_seconds))
        finally:
            for client in clients:
                await client.aclose()


async def measure(options: Options, workload: Workload, data_dir: Path) -> Report:
    """Database and server live inside context managers, so any exit path stops the one and drops the other."""
    redis_url = await reachable_redis(REDIS_URL)
    note(f"redis: {redis_url or 'embedded (machine redis unreachable)'}")
    async with temporary_database(options.admin_url) as db_url:
        try:
            await asyncio.to_thread(migrate, sqlalchemy_url(db_url))
            env = server_env(db_url, redis_url, data_dir)
            settings = settings_from(env)
            context = f"ingest: {options.per_phase} orders per phase; PostgreSQL {await server_version(db_url)}; "
            context += f"redis {redis_url or 'embedded'}; {os.cpu_count()} CPUs"
            note("baseline: plain asyncpg")
            baseline = await run_baseline(
                db_url, workload, BuyerIdentity(identity_keys(settings), settings.phone_region)
            )
            single, batch = await run_api(observed_env(env, options.observability), settings, data_dir, workload)
            overhead = None
            if options.overhead:
                note("overhead: submitOrder with observability on and off, rounds on both at once")
                overhead = await run_overhead(env, settings, data_dir, workload)
            verification = await verify(db_url, workload)
        finally:
            await flush_redis(redis_url)
    return Report(options.per_phase, options.quick, context, baseline, single, batch, verification,
                  options.observability, overhead)  # fmt: skip


async def amain(options: Options) -> int:
    current = asyncio.current_task()
    assert current is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    workload = make_workload(options.per_phase, options.overhead)
    note(f"generated {len(workload.all_orders())} orders: {options.per_phase} per phase plus warm-ups")
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as data_dir:
        report = await measure(options, workload, Path(data_dir))
    print(report.table())
    print(json.dumps(report.summary()))
    return 1 if report.verification.problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        return asyncio.run(amain(options))
    except KeyboardInterrupt:
        note("interrupted; server stopped and database dropped")
        return 128 + signal.SIGINT
    except asyncio.CancelledError:
        note("terminated; server stopped and database dropped")
        return 128 + signal.SIGTERM
    except BenchError as error:
        note(f"failed: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
