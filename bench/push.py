"""Live push fan-out: N websocket subscribers on one API process, measured against a bare websocket
broadcast server in the same run.

    python -m bench.push [--quick] [-n 2000] [--rounds 5]

orderhub: one API server process (uvicorn, the embedded default: SQLite and an embedded
redis-server, in a throwaway data directory). N graphql-transport-ws clients, all holding the
token of one buyer, subscribe to `orderUpdates`. Each round a partner resubmits the buyer's order
(an amendment, and finally the payment); the delay runs from that mutation's HTTP response to each
subscriber receiving the pushed `next` message. The path measured: commit, outbox relay, Redis
pub/sub, the process's one subscriber connection, N mailboxes, N ownership re-checks, N GraphQL
executions and N websocket sends.

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
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = "graphql-transport-ws"
CONNECT_CONCURRENCY = 64
SUBSCRIPTION = "subscription { orderUpdates { eventId issuedAt version status snapshot order { id status version } } }"
SUBMIT = (
    "mutation($input: OrderInput!) { submitOrder(input: $input) { order { id version buyerUid } userErrors { code } } }"
)


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
    matches the round, relative to the trigger's response."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.sockets: list[ClientConnection] = []
        self.current: Round | None = None
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
        async with asyncio.timeout(120):
            await placeholder.done.wait()
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


def _order(channel_order_id: str, phone: str, round_no: int, paid: bool) -> dict[str, Any]:
    """An amendment per round (a coupon shrinking by a yuan) changes the order's version; the last pays."""
    discount = 20 - round_no
    order: dict[str, Any] = {
        "channel": "TAOBAO",
        "channelOrderId": channel_order_id,
        "currencyCode": "CNY",
        "placedAt": "2026-11-24T20:15:03+08:00",
        "status": "PENDING_PAYMENT",
        "lines": [{"sku": "SKU-TEA-001", "title": "明前龙井 250g", "quantity": 1, "unitPrice": "100.00"}],
        "discountAmount": f"{discount}.00",
        "totalAmount": f"{100 - discount}.00",
        "buyer": {"phone": phone},
    }
    if paid:
        order.update(status="PAID", paidAt="2026-11-24T20:16:40+08:00")
    return order


async def _orderhub(n: int, rounds: int, data_dir: Path) -> tuple[dict[str, float], bytes]:
    from api.auth.tokens import issue_customer_token
    from domain.access.service import issue_partner_key
    from domain.bootstrap import build_core
    from domain.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=None, redis_url=None)
    core = await build_core(settings)
    async with core.sessions() as session, session.begin():
        key = (await issue_partner_key(session, "bench-bridge", ["orders:write"])).key
    await core.close()

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env["ORDERHUB_DATA_DIR"] = str(data_dir)
    command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    server = await asyncio.create_subprocess_exec(*command, "--log-level", "warning", cwd=ROOT, env=env)
    audience = Audience(n)
    sample = b""
    try:
        await _wait_http(f"http://127.0.0.1:{port}/healthz", server)
        phone = f"+86 139 {secrets.randbelow(10_000):04d} {secrets.randbelow(10_000):04d}"
        channel_order_id = secrets.token_hex(8)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:

            async def submit(round_no: int, paid: bool) -> dict[str, Any]:
                body = {"query": SUBMIT, "variables": {"input": _order(channel_order_id, phone, round_no, paid)}}
                response = await http.post("/graphql", json=body, headers={"X-Api-Key": key})
                result: dict[str, Any] = response.json()["data"]["submitOrder"]
                assert not result["userErrors"], result
                return result

            placed = await submit(0, False)
            uid = placed["order"]["buyerUid"]
            token = issue_customer_token(settings.secret("token_secret"), uid, 60).token
            url = f"ws://127.0.0.1:{port}/graphql"

            async def subscriber() -> ClientConnection:
                ws = await connect(url, subprotocols=[PROTOCOL], open_timeout=60, max_queue=None)  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
                assert b'"snapshot":true' in (await ws.recv()).encode()  # type: ignore[union-attr]
                return ws

            started = time.perf_counter()
            await audience.connect(subscriber)
            print(f"orderhub: {n} subscribers connected in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            results = []
            for round_no in range(1, rounds + 1):
                version = round_no + 1
                marker = f'"version":{version},'.encode()

                async def trigger(r: int = round_no) -> None:
                    await submit(r, r == rounds)

                results.append(await audience.run_round(trigger, lambda data, m=marker: m in data))
                await asyncio.sleep(0.3)
            last = rounds + 1
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
                                "status": "PAID",
                                "snapshot": False,
                                "order": {"id": "gid://orderhub/Order/1", "status": "PAID", "version": last},
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

    async with serve(handler, "127.0.0.1", port, max_queue=None):
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
            ws = await connect(url, open_timeout=60, max_queue=None)
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


async def main(n: int, rounds: int) -> dict[str, Any]:
    limit = _raise_fd_limit(2 * n + 256)
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-push-") as tmp:
        ours, sample = await _orderhub(n, rounds, Path(tmp))
    base = await _baseline(n, rounds, sample)
    print(f"orderhub: {ours}", file=sys.stderr)
    print(f"baseline: {base}", file=sys.stderr)
    return {
        "bench": "push",
        "subscribers": n,
        "rounds": rounds,
        "events_delivered": n * rounds,
        "fd_limit": limit,
        "orderhub": ours,
        "baseline_broadcast": base,
        "p50_from_request_ratio": round(ours["p50_from_request_ms"] / base["p50_from_request_ms"], 2),
        "p99_from_request_ratio": round(ours["p99_from_request_ms"] / base["p99_from_request_ms"], 2),
        "throughput_ratio": round(ours["events_per_s"] / base["events_per_s"], 3),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 subscribers, 3 rounds")
    parser.add_argument("-n", "--subscribers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--broadcast-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.broadcast_server is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_broadcast_server(args.broadcast_server))
        return
    n = args.subscribers or (200 if args.quick else 2000)
    rounds = args.rounds or (3 if args.quick else 5)
    print(json.dumps(asyncio.run(main(n, rounds))))


if __name__ == "__main__":
    cli()
