"""The confirmation part of `orderhub demo`: a Douyin shop is registered with credentials, a local fake Douyin open
platform (10% busy, 5% rate-limited) stands in for the real one, and the orders the floor ships are confirmed to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func
from sqlmodel import col, select

from domain.clock import utcnow
from domain.confirmations.models import ConfirmationState, ShipmentConfirmation
from domain.orders.channels import Channel
from domain.shops.credentials import Credentials
from domain.shops.models import Shop
from domain.shops.service import set_credentials
from runtime.process import Runtime
from runtime.queues import OUTBOUND
from sim.channel_servers import ChannelServer, ShopKeys, make_server, running
from workers.settings import create_worker

KEYS = ShopKeys()


@asynccontextmanager
async def fake_douyin(runtime: Runtime) -> AsyncIterator[ChannelServer]:
    """Registers the shop and points the Douyin base URL at the fake platform while the block runs."""
    async with runtime.core.sessions() as session, session.begin():
        shop = Shop(channel=Channel.DOUYIN.value, code="demo-douyin", name="Douyin demo shop", created_at=utcnow())
        session.add(shop)
        await session.flush()
        assert shop.id is not None
        credentials = Credentials(app_key=KEYS.app_key, app_secret=KEYS.app_secret, access_token=KEYS.access_token)
        await set_credentials(session, runtime.core.vault, shop.id, credentials, "demo")
    before = runtime.core.settings
    with running(make_server(KEYS, transient_rate=0.10, rate_limit_rate=0.05)) as server:
        runtime.core.settings = before.model_copy(
            update={"douyin_api_url": server.url, "confirmation_backoff_seconds": 1}
        )
        try:
            yield server
        finally:
            runtime.core.settings = before


async def _run_outbound(runtime: Runtime) -> None:
    """Only the outbound queue: the other jobs the floor enqueued are the later sections' to run (predictions wait
    for the model the next section trains)."""
    worker = create_worker(runtime, OUTBOUND, burst=True, poll_delay=0.05)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def confirm_and_report(runtime: Runtime, server: ChannelServer) -> None:
    """Runs the queued confirmations (retries come back a second later) and prints where they stand."""
    for _ in range(20):
        await runtime.relay.drained()
        await _run_outbound(runtime)
        async with runtime.core.sessions() as session:
            states = Counter(
                dict(
                    (
                        await session.exec(
                            select(ShipmentConfirmation.state, func.count()).group_by(col(ShipmentConfirmation.state))
                        )
                    ).all()
                )
            )
        if not states[ConfirmationState.PENDING.value]:
            break
        await asyncio.sleep(1)
    calls = Counter(seen.act.value for seen in server.ledger.calls)
    print(f"\n== shipment confirmation: {sum(states.values())} Douyin parcels confirmed to a local fake open platform")
    print(f"   states    {dict(states)}")
    print(f"   calls     {sum(calls.values())} signed order.logisticsAdd calls, answered {dict(calls)}")
    print(
        f"   accepted  {len(server.ledger.accepted)} parcels, "
        f"{server.ledger.repeats_after_success} sent again after the platform had accepted them"
    )
