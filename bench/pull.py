"""Channel pull throughput, per channel, against the pushed path in the same run.

`python -m bench.pull [--quick] [--orders N] [--redis-url URL]` stocks a local fake channel server (the one the
tests use: TOP, Douyin and SP-API order lists, signatures checked) with N orders per channel (100,000; `--quick`
2,000), then per channel, in a throwaway SQLite database (the embedded default):

- pull: one shop with credentials, pulled until caught up, 100 orders a page: every page signed and sent over
  HTTP, read, recorded in the raw mirror and applied by the channel payload handler with the cursor in one unit
  of work (Amazon: one getOrderItems call per order as well, as SP-API requires);
- push: the very same payload bytes, each sent as a bridge does, one `submitChannelOrder` GraphQL request at a
  time to the API (in process, over ASGI), into a second throwaway database.

Orders per second each way, their ratio, and a check: each database holds N orders of the channel, every
inbound message APPLIED, and the two databases' orders identical (id, status, total). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome
from domain.orders.models import Order
from domain.pull.channels import pull_api_of
from domain.pull.service import PullOutcome, enable_pull
from domain.settings import Settings
from domain.shops.credentials import Credentials
from domain.shops.service import create_shop, set_credentials
from runtime.channel_pull import shop_puller
from runtime.process import Runtime, build_runtime
from sim.channel_servers import ChannelServer, ShopKeys, make_server, running, stock

CHANNELS = ("TAOBAO", "DOUYIN", "AMAZON")
KEYS = ShopKeys()
SECRETS = {"vault_key": "bench-vault", "identity_key": "bench-identity-key", "token_secret": "bench"}
SUBMIT = """mutation($input: SubmitChannelOrderInput!) { submitChannelOrder(input: $input) {
  order { channelOrderId } userErrors { code } } }"""


async def _runtime(data_dir: Path, server: ChannelServer, redis_url: str) -> Runtime:
    settings = Settings(
        data_dir=data_dir, database_url=f"sqlite+aiosqlite:///{data_dir}/bench.db", redis_url=redis_url,
        taobao_api_url=server.url, douyin_api_url=server.url, amazon_api_url=server.url,
        pull_page_size=100, pull_max_pages=1_000_000, pull_backoff_seconds=0, pull_initial_lookback_hours=48,
        **SECRETS,
    )  # type: ignore[arg-type]  # fmt: skip
    return await build_runtime(settings, relay=False)


async def _pull(runtime: Runtime, channel: str) -> tuple[float, int]:
    creds = Credentials(KEYS.app_key, KEYS.app_secret, KEYS.access_token, marketplace_id="ATVPDKIKX0DER")
    async with runtime.core.sessions() as session, session.begin():
        shop = await create_shop(session, channel, "bench", "bench")
        assert shop.id is not None
        await set_credentials(session, runtime.core.vault, shop.id, creds, "bench")
        await enable_pull(session, shop.id)
    started = time.perf_counter()
    run = await shop_puller(runtime, committed=lambda: None).pull(shop.id)
    elapsed = time.perf_counter() - started
    if run.outcome is not PullOutcome.CAUGHT_UP:
        raise RuntimeError(f"{channel} pull ended {run.outcome}: {run.notes}")
    return elapsed, run.orders


def _payloads(server: ChannelServer, channel: str) -> list[bytes]:
    api = pull_api_of(channel)
    assert api is not None
    orders = server.orders[channel]
    if api.order_id is None:
        return [api.payload(order, None) for order in orders]
    return [api.payload(o, {"OrderItems": server.amazon_items[api.order_id(o)]}) for o in orders]


async def _push(runtime: Runtime, channel: str, payloads: list[bytes]) -> float:
    async with runtime.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "bridge", ["orders:write"], [channel])
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderhub.bench") as client:
        started = time.perf_counter()
        for body in payloads:
            variables = {"input": {"channel": channel, "payload": body.decode()}}
            response = await client.post("/graphql", json={"query": SUBMIT, "variables": variables},
                                         headers={"X-Api-Key": key.key})  # fmt: skip
            answer = response.json()["data"]["submitChannelOrder"]
            if answer["userErrors"]:
                raise RuntimeError(f"{channel} push refused: {answer['userErrors']}")
        return time.perf_counter() - started


async def _orders(runtime: Runtime) -> tuple[list[tuple[Any, ...]], int]:
    async with runtime.core.sessions() as session:
        rows = (await session.execute(
            select(Order.channel_order_id, Order.status, Order.total_amount).order_by(Order.channel_order_id)
        )).all()  # fmt: skip
        pending = (await session.execute(
            select(func.count()).select_from(InboundMessage).where(InboundMessage.outcome != Outcome.APPLIED)
        )).scalar_one()  # fmt: skip
    return [tuple(r) for r in rows], int(pending)


async def run(per_channel: int, redis_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    verified = True
    with running(make_server(KEYS)) as server:
        for channel in CHANNELS:
            stock(server, channel, per_channel, utcnow() - timedelta(hours=30))
        for channel in CHANNELS:
            with tempfile.TemporaryDirectory() as pulled_dir, tempfile.TemporaryDirectory() as pushed_dir:
                pulled = await _runtime(Path(pulled_dir), server, redis_url)
                pushed = await _runtime(Path(pushed_dir), server, redis_url)
                try:
                    pull_s, count = await _pull(pulled, channel)
                    push_s = await _push(pushed, channel, _payloads(server, channel))
                    (pull_rows, pull_left), (push_rows, push_left) = await _orders(pulled), await _orders(pushed)
                finally:
                    await pulled.close()
                    await pushed.close()
            ok = count == per_channel == len(pull_rows) and pull_rows == push_rows and pull_left == push_left == 0
            verified = verified and ok
            results[channel] = {
                "pull_per_s": round(per_channel / pull_s, 1), "push_per_s": round(per_channel / push_s, 1),
                "ratio_to_push": round(push_s / pull_s, 2), "verified": ok,
            }  # fmt: skip
            print(json.dumps({"channel": channel, **results[channel]}), flush=True)
    total = per_channel * len(CHANNELS)
    pull_s = sum(per_channel / r["pull_per_s"] for r in results.values())
    push_s = sum(per_channel / r["push_per_s"] for r in results.values())
    return {
        "bench": "pull", "orders": total, "orders_per_channel": per_channel,
        "pull_per_s": round(total / pull_s, 1), "push_per_s": round(total / push_s, 1),
        "ratio_to_push": round(push_s / pull_s, 2),
        "ratio_to_push_min": min(r["ratio_to_push"] for r in results.values()),
        "channels": results, "verified": verified,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pull", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 orders per channel instead of 100,000")
    parser.add_argument("--orders", type=int, help="orders per channel (overrides --quick)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1", help="no key is written to it")
    args = parser.parse_args()
    per_channel = args.orders or (2_000 if args.quick else 100_000)
    print(json.dumps(asyncio.run(run(per_channel, args.redis_url))))


if __name__ == "__main__":
    main()
