"""Live push fan-out: N websocket subscribers on one API process, measured against a bare websocket
broadcast server in the same run.

    python -m bench.push [--quick] [-n 10000] [--rounds 5]

orderhub: one API server process (uvicorn, the embedded default: SQLite and an embedded
redis-server, in a throwaway data directory). N graphql-transport-ws clients, all holding the
token of one buyer, subscribe to `orderUpdates`. Unmeasured set-up: a partner submits the buyer's
order as PAID and an `ops` staff member requests its shipment with `requestedAt` an hour ago (so the
outbound clears the shipped rule's 5-minute minimum). Each round is then one physical event, in the
order a parcel lives them: `recordWarehouseEvent` scans PICKED, PACKED, WEIGHED, SHIPPED (`wms:write`
key), then `recordCarrierEvent` DELIVERED (`carrier:write` key); at most 5 rounds, more are capped.
Each event is one order version, so each round must bring every subscriber exactly one pushed
`next` message at that version (a message beyond that fails the run). The delay runs from the
mutation's HTTP response, and from its request, to each subscriber receiving it. The path
measured: commit, outbox relay, Redis pub/sub, the process's one subscriber connection, N
mailboxes, N ownership re-checks, N GraphQL executions and N websocket sends.

baseline: a plain `websockets` server process that, when a control client asks, answers "ok" and
then broadcasts the same `next` message bytes to the same N clients: the floor any Python
websocket fan-out on this machine pays.

The clients run in this process for both, so client-side cost is the same on both sides.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = "graphql-transport-ws"
CONNECT_CONCURRENCY = 64
ROUND_TIMEOUT_S = 120
# Keepalive pings are not the path measured, and 10,000 idle connections pinged every 20 s during a
# set-up of minutes on a busy machine miss their pongs and close: neither side pings in the bench.
NO_PINGS: dict[str, Any] = {"ping_interval": None}
PROFILE = os.environ.get("ORDERHUB_BENCH_PROFILE")  # a file: the API server runs under cProfile
SUBSCRIPTION = "subscription { orderUpdates { eventId issuedAt version status snapshot order { id status version } } }"
SUBMIT = (
    "mutation($input: OrderInput!) { submitOrder(input: $input) { order { id version buyerUid } userErrors { code } } }"
)
REQUEST = (
    "mutation($input: RequestShipmentInput!) { requestShipment(input: $input) { order { id status version } "
    "userErrors { field code } } }"
)
EVIDENCE = "{ outcome decision order { status version } userErrors { field code } }"
WAREHOUSE = f"mutation($input: WarehouseEventInput!) {{ recordWarehouseEvent(input: $input) {EVIDENCE} }}"
CARRIER = f"mutation($input: CarrierEventInput!) {{ recordCarrierEvent(input: $input) {EVIDENCE} }}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        raise SystemExit(f"need {needed} open files, the hard limit is {target}: lower -n")
    return target


@dataclass
class Round:
    sent: float
    responded: float
    expected: Callable[[bytes], bool]
    received: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Audience:
    """N websocket clients; each round, the arrival time of the first message each of them gets that
    matches the round, relative to the trigger's response. Any other message is counted as a stray."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sockets: list[ClientConnection] = []
        self.current: Round | None = None
        self.strays = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, opener: Callable[[], Awaitable[ClientConnection]]) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> ClientConnection:
            async with gate:
                return await opener()

        self.sockets = list(await asyncio.gather(*(one() for _ in range(self.n))))
        self._tasks = [asyncio.create_task(self._listen(s)) for s in self.sockets]

    async def _listen(self, ws: ClientConnection) -> None:
        matched: Round | None = None
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.perf_counter()
                data = raw.encode() if isinstance(raw, str) else raw
                current = self.current
                if current is None or current is matched or not current.expected(data):
                    self.strays += 1
                    continue
                matched = current
                current.received.append(now)
                if len(current.received) == self.n:
                    current.done.set()

    async def run_round(self, trigger: Callable[[], Awaitable[None]], expected: Callable[[bytes], bool]) -> Round:
        placeholder = Round(time.perf_counter(), 0.0, expected)
        self.current = placeholder
        await trigger()
        placeholder.responded = time.perf_counter()
        try:
            async with asyncio.timeout(ROUND_TIMEOUT_S):
                await placeholder.done.wait()
        except TimeoutError:
            closed = sum(s.close_code is not None for s in self.sockets)
            raise SystemExit(
                f"{len(placeholder.received)} of {self.n} subscribers got the event within {ROUND_TIMEOUT_S} s "
                f"({closed} connections closed)"
            ) from None
        return placeholder

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def _summary(rounds: list[Round]) -> dict[str, float]:
    """Delays from the trigger's response (negative: the push beat the response) and from its request;
    throughput is deliveries over the time from each request to its last delivery."""
    after_response = sorted((t - r.responded) * 1000 for r in rounds for t in r.received)
    after_request = sorted((t - r.sent) * 1000 for r in rounds for t in r.received)
    spans = sum(max(r.received) - r.sent for r in rounds)
    return {
        "p50_ms": round(statistics.median(after_response), 2),
        "p99_ms": round(_percentile(after_response, 0.99), 2),
        "p50_from_request_ms": round(statistics.median(after_request), 2),
        "p99_from_request_ms": round(_percentile(after_request, 0.99), 2),
        "max_from_request_ms": round(after_request[-1], 2),
        "events_per_s": round(len(after_request) / spans, 1),
        "deliveries": len(after_request),
    }


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(30):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def _wait_http(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(60):
        while True:
            if process.returncode is not None:
                raise SystemExit("the API server exited during start-up")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)


def _paid_order(channel_order_id: str, phone: str) -> dict[str, Any]:
    placed = datetime.now(UTC) - timedelta(hours=3)
    return {
        "channel": "TAOBAO",
        "channelOrderId": channel_order_id,
        "currencyCode": "CNY",
        "placedAt": placed.isoformat(),
        "paidAt": (placed + timedelta(minutes=2)).isoformat(),
        "status": "PAID",
        "lines": [{"sku": "SKU-TEA-001", "title": "明前龙井 250g", "quantity": 1, "unitPrice": "100.00"}],
        "totalAmount": "100.00",
        "buyer": {"phone": phone},
    }


@dataclass(frozen=True)
class Step:
    """One physical event: the mutation, its input at the moment it is sent, and the status it leaves."""

    label: str
    mutation: str
    field: str
    status: str
    build: Callable[[str, datetime], dict[str, Any]]


def _scan(kind: str) -> Callable[[str, datetime], dict[str, Any]]:
    def build(code: str, at: datetime) -> dict[str, Any]:
        scan: dict[str, Any] = {
            "eventId": f"{code}-{kind}",
            "deliveryOrderCode": code,
            "warehouseCode": "WH-SH-01",
            "scanType": kind,
            "scannedAt": at.isoformat(),
            "zone": "P",
            "station": "packing station B",
            "operatorCode": "E1024",
            "operatorName": "Li Lei",
        }
        if kind == "WEIGHED":
            scan["weightGrams"] = 730
        if kind == "SHIPPED":
            scan["expressCode"] = f"SF{code}"
        return {"scan": scan}

    return build


def _delivered(code: str, at: datetime) -> dict[str, Any]:
    return {
        "eventId": f"{code}-signed",
        "carrierCode": "SF",
        "trackingNumber": f"SF{code}",
        "action": "DELIVERED",
        "occurredAt": at.isoformat(),
        "location": "Shanghai Xuhui, parcel locker 12",
        "courier": "Wang Qiang",
        "signer": "buyer",
    }


# A WEIGHED scan moves no status: it is logged on the order (a new version) and pushed as PACKED again.
STEPS = [
    Step("warehouse scan PICKED", WAREHOUSE, "recordWarehouseEvent", "PICKED", _scan("PICKED")),
    Step("warehouse scan PACKED", WAREHOUSE, "recordWarehouseEvent", "PACKED", _scan("PACKED")),
    Step("warehouse scan WEIGHED", WAREHOUSE, "recordWarehouseEvent", "PACKED", _scan("WEIGHED")),
    Step("warehouse scan SHIPPED", WAREHOUSE, "recordWarehouseEvent", "SHIPPED", _scan("SHIPPED")),
    Step("carrier DELIVERED", CARRIER, "recordCarrierEvent", "DELIVERED", _delivered),
]


async def _orderhub(n: int, rounds: int, data_dir: Path) -> tuple[dict[str, float], bytes]:
    from api.auth.tokens import issue_customer_token, issue_staff_token
    from domain.access.service import create_staff, issue_partner_key
    from domain.settings import Settings
    from runtime.core import build_core

    settings = Settings(data_dir=data_dir, database_url=None, redis_url=None)
    core = await build_core(settings)
    async with core.sessions() as session, session.begin():
        bridge = (await issue_partner_key(session, "bench-bridge", ["orders:write"])).key
        wms = (await issue_partner_key(session, "bench-wms", ["wms:write"])).key
        carrier = (await issue_partner_key(session, "bench-carrier", ["carrier:write"])).key
        ops = await create_staff(session, "ops@bench.example", secrets.token_urlsafe(16), ["ops"])
    await core.close()
    assert ops.id is not None
    staff = issue_staff_token(settings.secret("token_secret"), ops.id, ops.email, ops.roles, 60).token
    keys = {WAREHOUSE: {"X-Api-Key": wms}, CARRIER: {"X-Api-Key": carrier}}

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env["ORDERHUB_DATA_DIR"] = str(data_dir)
    env["ORDERHUB_PARTNER_COST_BUCKET"] = "0"  # the bench measures pushes, not fair use
    command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    if PROFILE:
        command = [sys.executable, "-m", "bench.push", "--profiled-server", str(port), PROFILE]
    if not PROFILE:
        command += ["--log-level", "warning", "--ws-ping-interval", "0"]
    server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    audience = Audience(n)
    sample = b""
    try:
        await _wait_http(f"http://127.0.0.1:{port}/healthz", server)
        phone = f"+86 139 {secrets.randbelow(10_000):04d} {secrets.randbelow(10_000):04d}"
        code = f"{secrets.randbelow(10**15):015d}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:

            async def call(query: str, name: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
                response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
                body = response.json()
                assert not body.get("errors") and not body["data"][name]["userErrors"], body
                return body["data"][name]

            placed = await call(SUBMIT, "submitOrder", {"input": _paid_order(code, phone)}, {"X-Api-Key": bridge})
            gid, uid = placed["order"]["id"], placed["order"]["buyerUid"]
            # Unmeasured: the click, an hour ago, so the outbound clears the shipped rule's minimum delay.
            requested = {"orderId": gid, "requestedAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
            shipped = await call(REQUEST, "requestShipment", {"input": requested}, {"Authorization": f"Bearer {staff}"})
            assert shipped["order"]["status"] == "SHIP_REQUESTED", shipped
            base_version: int = shipped["order"]["version"]
            token = issue_customer_token(settings.secret("token_secret"), uid, 60).token
            url = f"ws://127.0.0.1:{port}/graphql"

            async def subscriber() -> ClientConnection:
                ws = await connect(url, subprotocols=[PROTOCOL], open_timeout=60, max_queue=None, **NO_PINGS)  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
                first = (await ws.recv()).encode()  # type: ignore[union-attr]
                assert b'"snapshot":true' in first and f'"version":{base_version},'.encode() in first, first
                return ws

            started = time.perf_counter()
            await audience.connect(subscriber)
            print(f"orderhub: {n} subscribers connected in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            results = []
            if PROFILE:
                server.send_signal(signal.SIGUSR1)
            for round_no, step in enumerate(STEPS[:rounds], start=1):
                version = base_version + round_no
                markers = (f'"version":{version},'.encode(), f'"status":"{step.status}"'.encode())

                async def trigger(s: Step = step, v: int = version) -> None:
                    variables = {"input": s.build(code, datetime.now(UTC))}
                    result = await call(s.mutation, s.field, variables, keys[s.mutation])
                    assert result["outcome"] in ("APPLIED", "NOTED") and result["order"]["version"] == v, result
                    assert result["order"]["status"] == s.status, result

                done = await audience.run_round(trigger, lambda data, m=markers: all(x in data for x in m))
                results.append(done)
                first, last = (min(done.received) - done.sent) * 1000, (max(done.received) - done.sent) * 1000
                response = (done.responded - done.sent) * 1000
                print(
                    f"orderhub: {step.label}: response {response:.0f} ms, deliveries {first:.0f} to {last:.0f} ms",
                    file=sys.stderr,
                )
                await asyncio.sleep(0.3)
            if PROFILE:
                server.send_signal(signal.SIGUSR1)
            await asyncio.sleep(1.0)
            assert audience.strays == 0, f"{audience.strays} pushed messages beyond one per subscriber per round"
            last = base_version + rounds
            status = STEPS[rounds - 1].status
            sample = json.dumps(
                {
                    "id": "1",
                    "type": "next",
                    "payload": {
                        "data": {
                            "orderUpdates": {
                                "eventId": f"1:{last}",
                                "issuedAt": "2026-11-25T08:00:00.000000+00:00",
                                "version": last,
                                "status": status,
                                "snapshot": False,
                                "order": {"id": gid, "status": status, "version": last},
                            }
                        }
                    },
                },
                separators=(",", ":"),
            ).encode()
    finally:
        await audience.close()
        await _stop(server)
    return _summary(results), sample


def _profiled_server(port: int, path: str) -> None:
    """The API server under cProfile (ORDERHUB_BENCH_PROFILE), in CPU time (wall time on a shared
    machine charges the waits to whatever runs), profiling only between two SIGUSR1 (the bench sends
    them around the measured rounds, leaving out the connection set-up). uvicorn re-raises SIGTERM
    once shut down: a no-op handler lets the stats be written first."""
    import cProfile
    import signal

    import uvicorn

    profile = cProfile.Profile(time.process_time)
    active = [False]

    def toggle(*_: object) -> None:
        (profile.disable if active[0] else profile.enable)()
        active[0] = not active[0]

    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGUSR1, toggle)
    config = uvicorn.Config("api.asgi:app", host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None)
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        profile.disable()
        profile.dump_stats(path)


async def _broadcast_server(port: int) -> None:
    """The baseline: subscribers say "subscribe"; a control client sends a payload, gets "ok", and the
    server then broadcasts the payload to every subscriber."""
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        try:
            async for message in ws:
                if message == "subscribe":
                    subscribers.add(ws)
                    await ws.send("ready")
                else:
                    await ws.send("ok")
                    broadcast(subscribers, message)
        finally:
            subscribers.discard(ws)

    async with serve(handler, "127.0.0.1", port, max_queue=None, **NO_PINGS):
        await asyncio.Event().wait()


async def _baseline(n: int, rounds: int, sample: bytes) -> dict[str, float]:
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.push", "--broadcast-server", str(port), cwd=ROOT
    )
    audience = Audience(n)
    try:
        url = f"ws://127.0.0.1:{port}"
        async with asyncio.timeout(30):
            while True:
                try:
                    control = await connect(url)
                    break
                except OSError:
                    await asyncio.sleep(0.2)

        async def subscriber() -> ClientConnection:
            ws = await connect(url, open_timeout=60, max_queue=None, **NO_PINGS)
            await ws.send("subscribe")
            assert await ws.recv() == "ready"
            return ws

        await audience.connect(subscriber)
        results = []
        for round_no in range(1, rounds + 1):
            payload = sample.replace(b'"eventId":"1:', f'"eventId":"{round_no}:'.encode()).decode()
            marker = f'"eventId":"{round_no}:'.encode()

            async def trigger(p: str = payload) -> None:
                await control.send(p)
                assert await control.recv() == "ok"

            results.append(await audience.run_round(trigger, lambda data, m=marker: m in data))
            await asyncio.sleep(0.3)
        await control.close()
    finally:
        await audience.close()
        await _stop(server)
    return _summary(results)


async def main(n: int, requested: int) -> dict[str, Any]:
    limit = _raise_fd_limit(n + 512)  # each process (the clients, the server) holds one socket per subscriber
    rounds = max(1, min(requested, len(STEPS)))
    if rounds != requested:
        print(f"rounds capped at {rounds}: the order has {len(STEPS)} physical steps", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-push-") as tmp:
        ours, sample = await _orderhub(n, rounds, Path(tmp))
    base = await _baseline(n, rounds, sample)
    print(f"orderhub: {ours}", file=sys.stderr)
    print(f"baseline: {base}", file=sys.stderr)
    return {
        "bench": "push",
        "subscribers": n,
        "rounds": rounds,
        "rounds_requested": requested,
        "steps": [s.label for s in STEPS[:rounds]],
        "events_delivered": n * rounds,
        "fd_limit": limit,
        "orderhub": ours,
        "baseline_broadcast": base,
        "p50_from_request_ratio": round(ours["p50_from_request_ms"] / base["p50_from_request_ms"], 2),
        "p99_from_request_ratio": round(ours["p99_from_request_ms"] / base["p99_from_request_ms"], 2),
        "p99_ratio_from_request": round(ours["p99_from_request_ms"] / base["p99_from_request_ms"], 2),
        "throughput_ratio": round(ours["events_per_s"] / base["events_per_s"], 3),
        # every subscriber got every round's event exactly once, on both sides (a stray fails the run)
        "verified": ours["deliveries"] == base["deliveries"] == n * rounds,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 subscribers instead of 10,000 (all 5 rounds)")
    parser.add_argument("-n", "--subscribers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--broadcast-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--profiled-server", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profiled_server is not None:
        _profiled_server(int(args.profiled_server[0]), args.profiled_server[1])
        return
    if args.broadcast_server is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_broadcast_server(args.broadcast_server))
        return
    n = args.subscribers or (200 if args.quick else 10_000)
    rounds = args.rounds or len(STEPS)
    print(json.dumps(asyncio.run(main(n, rounds))))


if __name__ == "__main__":
    cli()
