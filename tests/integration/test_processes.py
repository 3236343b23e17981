"""Two API processes and two workers, as production runs them: `orderhub serve` and `orderhub worker` as OS
processes (started by bench/processes.py) on one PostgreSQL database and one real Redis.

One scenario, in order, because each step leaves the fleet as the next one needs it:
1. orders go to both APIs; a customer subscribed over a websocket on API A gets the pushes that orders
   submitted and paid through API B cause;
2. every job those orders enqueued ran once: each has one arq result, first try, and the workers'
   heartbeats count exactly as many runs between them (a job run twice would count twice);
3. one worker is SIGKILLed with jobs still queued (deferred a few seconds): the other runs them all;
4. the APIs restart one after the other (SIGTERM, start, wait for /readyz) under partner traffic that
   retries on the other API: every order is acknowledged in the end and stored once.

The processes do not migrate at start (ORDERHUB_MIGRATE_ON_START=false, as the operations guide advises):
the test migrates once, as a release step would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from arq.connections import ArqRedis
from arq.jobs import Job
from sqlalchemy import func, select

from api.auth.tokens import issue_customer_token, issue_staff_token
from bench.partners import Observed, Partner
from bench.pgdb import sqlalchemy_url, temporary_database
from bench.processes import Managed, free_port, wait_answering
from domain.access.service import create_staff, issue_partner_key
from domain.db import migrate_async
from domain.orders.models import Order
from domain.outbox.models import OutboxKind, OutboxMessage
from domain.outbox.service import job_id
from domain.settings import Settings
from runtime.core import Core, build_core
from runtime.heartbeat import MISSED_BEATS, read_beats
from runtime.queues import QUEUES
from sim.day import generate_day
from tests.conftest import IN_CI, PG_ADMIN, REDIS_URL, _pg_reachable
from tests.integration.orders_fixtures import order_input
from tests.integration.push_client import ORDER_UPDATES, GraphQLWs

ROOT = Path(__file__).parents[2]
SECRETS = {
    "ORDERHUB_IDENTITY_KEY": "processes-identity-key-0123456789abcdef",
    "ORDERHUB_TOKEN_SECRET": "processes-token-secret-0123456789abcdef",
    "ORDERHUB_VAULT_KEY": "processes-vault-key-0123456789abcdef",
}
# The deadline and the merge window both run from placement: with both at 30 minutes, one placement time
# decides when both jobs of an order fall due.
WINDOW_S = 1800
HEARTBEAT_S = 1.0  # a worker counts as dead after three missed beats: 3 s, even on a loaded machine
DEFER_S = 8  # step 3: long enough to kill a worker before any of its jobs is due
WAIT_S = 30
SUBMIT = """
mutation Submit($input: OrderInput!) {
  submitOrder(input: $input) { order { id status } userErrors { field message code } }
}
"""


def _available() -> None:
    """PostgreSQL and Redis required in CI, as for every other suite; elsewhere skip when absent."""
    reasons = []
    if not _pg_reachable():
        reasons.append(f"PostgreSQL at {PG_ADMIN}")
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.exceptions.ConnectionError:
        reasons.append(f"Redis at {REDIS_URL}")
    if reasons and IN_CI:
        pytest.fail(f"{' and '.join(reasons)} must be reachable in CI")
    if reasons:
        pytest.skip(f"{' and '.join(reasons)} not reachable")


@dataclass
class Fleet:
    apis: list[Managed]
    ports: list[int]
    workers: list[Managed]
    core: Core
    redis: ArqRedis
    env: dict[str, str]
    prefix: str

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in [*self.apis, *self.workers])


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    await asyncio.to_thread(_available)  # it runs a loop of its own
    async with temporary_database(PG_ADMIN, "orderhub_procs") as plain_url:
        url = sqlalchemy_url(plain_url)
        await migrate_async(url)
        prefix = f"procs-{secrets.token_hex(4)}"  # pub/sub channels are server-wide: other suites share them
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
        env |= SECRETS | {
            "ORDERHUB_DATA_DIR": str(tmp_path / "data"),
            "ORDERHUB_DATABASE_URL": url,
            "ORDERHUB_REDIS_URL": REDIS_URL,
            "ORDERHUB_PUBSUB_PREFIX": prefix,
            "ORDERHUB_MIGRATE_ON_START": "false",
            "ORDERHUB_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_S),
            "ORDERHUB_MERGE_WINDOW_SECONDS": str(WINDOW_S),
            "ORDERHUB_PAYMENT_DEADLINE_MINUTES": str(WINDOW_S // 60),
            "ORDERHUB_OUTBOX_GRACE_SECONDS": "1",
            "ORDERHUB_SHUTDOWN_GRACE_SECONDS": "3",
        }
        settings = Settings(
            **{k.removeprefix("ORDERHUB_").lower(): v for k, v in env.items() if k.startswith("ORDERHUB_")}
        )
        core = await build_core(settings, migrate=False)
        pool = ArqRedis.from_url(REDIS_URL)
        await pool.flushdb()
        python = sys.executable
        ports = [free_port(), free_port()]
        apis = [Managed(f"api-{n}", [python, "-m", "cli.main", "serve", "--port", str(port)], env,
                        tmp_path / f"api-{n}.log") for n, port in enumerate(ports)]  # fmt: skip
        workers = [Managed(f"worker-{n}", [python, "-m", "cli.main", "worker"], env, tmp_path / f"worker-{n}.log",
                           ready_line="Starting worker") for n in range(2)]  # fmt: skip
        fleet = Fleet(apis, ports, workers, core, pool, env, prefix)
        try:
            for process in [*apis, *workers]:
                await process.start()
            await asyncio.gather(*(wait_answering(a, fleet.url(n), "/readyz") for n, a in enumerate(apis)),
                                 *(w.wait_ready() for w in workers))  # fmt: skip
            yield fleet
        finally:
            await asyncio.gather(*(process.kill() for process in [*workers, *apis]))  # the database goes anyway
            await pool.aclose()
            await core.close()


async def test_two_apis_and_two_workers(fleet: Fleet) -> None:
    key, buyer, staff = await _credentials(fleet.core)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=fleet.url(n), timeout=30))
                   for n in range(2)]  # fmt: skip
        await _pushes_cross_processes(fleet, clients, key, buyer)
        runs, jobs = await _jobs_settled(fleet, since=0)
        assert len(runs) == 2, (runs, fleet.logs())
        assert sum(runs.values()) == jobs, f"{jobs} jobs, runs per worker {runs}: a job ran twice or not at all"
        await _a_killed_worker_leaves_the_queue_to_the_other(fleet, clients, key, staff, runs)
    await _rolling_restart_loses_nothing(fleet, key)


@dataclass(frozen=True)
class Buyer:
    phone: str
    token: str


async def _credentials(core: Core) -> tuple[str, Buyer, dict[str, str]]:
    secret = core.settings.secret("token_secret")
    phone = "+86 138 1234 5678"
    uid = core.identity.key_for_phone(phone).uid
    assert uid is not None
    async with core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "bridge", ["orders:write", "orders:read"])
        ops = await create_staff(session, "ops@shop.example", "correct horse battery", ["ops"])
    assert ops.id is not None
    staff = issue_staff_token(secret, ops.id, ops.email, ops.roles, 10).token
    return issued.key, Buyer(phone, issue_customer_token(secret, uid, 10).token), {"Authorization": f"Bearer {staff}"}


def _order(number: str, phone: str, placed: datetime, *, paid: bool = False) -> dict[str, Any]:
    paid_fields = {"status": "PAID", "paidAt": (placed + timedelta(minutes=1)).isoformat()} if paid else {}
    return order_input(f"PROC-{number}", placedAt=placed.isoformat(), buyer={"phone": phone}, **paid_fields)


async def _submit(client: httpx.AsyncClient, key: str, order: dict[str, Any]) -> str:
    response = await client.post("/graphql", json={"query": SUBMIT, "variables": {"input": order}},
                                 headers={"X-Api-Key": key})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors") and not body["data"]["submitOrder"]["userErrors"], body
    order_id: str = body["data"]["submitOrder"]["order"]["id"]
    return order_id


# ---------------------------------------------------------------- 1. pushes across API processes


async def _pushes_cross_processes(fleet: Fleet, clients: list[httpx.AsyncClient], key: str, buyer: Buyer) -> None:
    """The buyer's orders arrive paid (no job of theirs races the test); everybody else's wait for payment
    past their deadline, so that their jobs (deadline, grouping) are due at once."""
    past = datetime.now(UTC) - timedelta(hours=1)
    first = await _submit(clients[0], key, _order("C-0", buyer.phone, past, paid=True))
    ws = f"ws://127.0.0.1:{fleet.ports[0]}/graphql"
    async with GraphQLWs.open(ws, {"Authorization": f"Bearer {buyer.token}"}) as socket:
        op = await socket.subscribe(ORDER_UPDATES)
        snapshot = (await socket.next(op))["data"]["orderUpdates"]
        assert (snapshot["order"]["id"], snapshot["snapshot"]) == (first, True)  # the subscription is live on A

        for n in range(8):
            await _submit(clients[n % 2], key, _order(f"X-{n}", f"+86 139 0000 {1000 + n}", past))
        mine = {await _submit(clients[1], key, _order(f"C-{n}", buyer.phone, past, paid=True)) for n in (1, 2, 3)}

        pushed: set[str] = set()
        async with asyncio.timeout(WAIT_S):
            while pushed != mine:
                update = (await socket.next(op, wait_s=WAIT_S))["data"]["orderUpdates"]
                assert update["order"]["id"] in {first, *mine}, "another buyer's order was pushed"
                if update["order"]["id"] in mine and update["status"] == "PAID" and not update["snapshot"]:
                    pushed.add(update["order"]["id"])


# ---------------------------------------------------------------- 2. every job once


async def _jobs_settled(fleet: Fleet, since: int) -> tuple[dict[str, int], int]:
    """Waits for every job of the outbox rows after `since` to have its result, and checks it succeeded on
    its first try; then the outbox job runs each live worker's heartbeat counts, and how many jobs there were."""
    async with fleet.core.sessions() as session:
        rows = (await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.JOB.value, OutboxMessage.id > since)  # type: ignore[arg-type,operator]
        )).all()  # fmt: skip
    assert rows, "the orders enqueued no job"
    async with asyncio.timeout(WAIT_S):
        for row in rows:
            while (info := await Job(job_id(row), fleet.redis).result_info()) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            assert (info.success, info.job_try) == (True, 1), (row.target, info.result, fleet.logs())
    # Each worker rewrites its beat every HEARTBEAT_S: three beats after the last result, the counts are final.
    await asyncio.sleep(3 * HEARTBEAT_S + 0.5)
    now = datetime.now(UTC)
    alive = [b for b in await read_beats(fleet.redis, fleet.prefix) if b.alive(now, HEARTBEAT_S)]
    return {b.worker_id: b.jobs_run - b.cron_jobs_run for b in alive}, len(rows)


async def _last_outbox_id(core: Core) -> int:
    async with core.sessions() as session:
        return int((await session.scalar(select(func.max(OutboxMessage.id)))) or 0)


# ---------------------------------------------------------------- 3. one worker killed


async def _a_killed_worker_leaves_the_queue_to_the_other(
    fleet: Fleet, clients: list[httpx.AsyncClient], key: str, staff: dict[str, str], before: dict[str, int]
) -> None:
    victim, survivor = fleet.workers
    assert victim.process is not None and survivor.process is not None
    victim_id, survivor_id = (f"{os.uname().nodename}:{w.process.pid}" for w in (victim, survivor) if w.process)
    since = await _last_outbox_id(fleet.core)
    due = datetime.now(UTC) - timedelta(seconds=WINDOW_S - DEFER_S)  # both jobs of each order due in DEFER_S
    for n in range(10):
        await _submit(clients[n % 2], key, _order(f"K-{n}", f"+86 137 0000 {1000 + n}", due))
    await victim.kill()  # SIGKILL, with every job of those orders still waiting in the queue
    checking = asyncio.create_task(_worker_check(fleet.env))  # while the survivor works through the queue

    runs, jobs = await _jobs_settled(fleet, since=since)
    assert list(runs) == [survivor_id], (runs, fleet.logs())
    assert runs[survivor_id] - before[survivor_id] == jobs, "the surviving worker did not run each job once"

    ready = (await clients[0].get("/readyz", headers=staff)).json()
    assert {w["workerId"]: w["alive"] for w in ready["workers"]} == {victim_id: False, survivor_id: True}
    code, line = await checking
    assert code == 0 and line.startswith(f"ok: 1 worker(s) alive: {survivor_id} ({', '.join(QUEUES)})"), line


async def _worker_check(env: dict[str, str]) -> tuple[int, str]:
    """`orderhub worker --check` once the killed worker missed its beats."""
    await asyncio.sleep((MISSED_BEATS + 1) * HEARTBEAT_S)
    check = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "worker", "--check", env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await check.communicate()
    return check.returncode or 0, out.decode()


# ---------------------------------------------------------------- 4. rolling restart of the APIs


class RoundRobin(httpx.AsyncBaseTransport):
    """A balancer in front of the API processes: each attempt goes to the next one, so a retry after a refused
    connection lands on the other process."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = itertools.cycle(ports)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=next(self.ports))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _rolling_restart_loses_nothing(fleet: Fleet, key: str) -> None:
    orders = iter(generate_day(20261207, datetime(2026, 11, 24).date(), 1000).orders)
    observed = Observed()
    restarted = asyncio.Event()

    async def restart() -> None:
        for n, api in enumerate(fleet.apis):
            await api.stop()  # SIGTERM: uvicorn finishes what it accepted, refuses the rest
            await api.start()
            await wait_answering(api, fleet.url(n), "/readyz")
        restarted.set()

    async with httpx.AsyncClient(transport=RoundRobin(fleet.ports), base_url=fleet.url(0), timeout=30) as client:
        partner = Partner(client, key, b"", observed)
        deadline = time.monotonic() + 150  # a partner gives up after this; only a slow machine comes near

        async def bridge() -> None:
            for order in orders:  # shared by both bridges
                await partner.submit(order, deadline)
                if restarted.is_set():
                    return
                await asyncio.sleep(0.1)

        restarting = asyncio.create_task(restart())
        await asyncio.gather(bridge(), bridge(), restarting)

    assert observed.unfinished == [], (observed.refused[:5], observed.traffic_5xx[:5])
    assert sum(observed.no_answer.values()) > 0, "no request met a stopped API: the restart was not under traffic"
    async with fleet.core.sessions() as session:
        grouped = select(Order.channel, Order.channel_order_id, func.count()).group_by(
            Order.channel, Order.channel_order_id
        )
        stored = {(channel, number): n for channel, number, n in (await session.execute(grouped)).all()}
    assert len(observed.acknowledged_orders) >= 20, "too little traffic to cover the restart"
    lost = [o for o in observed.acknowledged_orders if o not in stored]
    assert lost == [], f"{len(lost)} acknowledged orders are not stored"
    assert [o for o, n in stored.items() if n > 1] == [], "an order retried on the other API was stored twice"
