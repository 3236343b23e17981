"""Identity throughput on PostgreSQL: orders/s through normalisation + UID + alias lookup + link update,
and grouping jobs/s, each as a ratio to a baseline of a bare HMAC plus one indexed lookup per order,
measured in the same run on the same database.

    python -m bench.identity [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from bench.pgdb import DEFAULT_ADMIN_URL, server_version, sqlalchemy_url, temporary_database
from domain.db import make_engine, make_session_factory, migrate_async
from domain.identity.grouping import group_pending
from domain.identity.phones import normalize_phone
from domain.identity.service import BuyerIdentity, Sighting, record_sightings, resolve_buyers
from domain.identity.uid import IdentityKey, derive_uid
from domain.orders.commands import CanonicalLine, CanonicalOrder
from domain.orders.models import Order
from domain.orders.status import OrderStatus
from domain.outbox.service import Outbox
from sim.buyers import BuyerBook, write_phone
from sim.channels import DOUYIN, TAOBAO, WECHAT_MINI

BATCH = 100
KEYS = [IdentityKey(2, b"bench-current-key-0123456789abcd"), IdentityKey(1, b"bench-previous-key-0123456789abc")]


def _orders(count: int, start_id: int, *, pending_groups: bool = False) -> list[CanonicalOrder]:
    """Buyers on three channels with differently written phones, every third order alias-only."""
    from random import Random

    rng = Random(f"bench-identity:{count}:{start_id}:{pending_groups}")
    book = BuyerBook(rng)
    base = datetime(2026, 11, 24, tzinfo=UTC)
    line = CanonicalLine(1, "SKU-TEA-001", "tea", 1, 9900, 9900)
    orders: list[CanonicalOrder] = []
    while len(orders) < count:
        buyer = book.enrol([TAOBAO, DOUYIN, WECHAT_MINI])
        at = base + timedelta(seconds=rng.randrange(86_000))
        for index, account in enumerate(buyer.accounts):
            phone = None if index == 2 and not pending_groups else account.phone_as_written
            orders.append(
                CanonicalOrder(
                    channel=TAOBAO if pending_groups else account.channel,
                    channel_order_id=f"B{start_id + len(orders)}",
                    status=OrderStatus.PENDING_PAYMENT if pending_groups else OrderStatus.PAID,
                    currency="CNY",
                    placed_at=at + timedelta(seconds=30 * index),
                    paid_at=None if pending_groups else at,
                    cancelled_at=None,
                    lines=(line,),
                    items_amount=9900,
                    shipping_amount=0,
                    discount_amount=0,
                    total_amount=9900 + index,
                    buyer_phone=phone or write_phone(buyer.phone, "plain") if index < 2 else phone,
                    platform_buyer_id=buyer.accounts[0].platform_buyer_id if index == 2 else account.platform_buyer_id,
                    receiver_region="310104",
                )
            )
    return orders[:count]


async def _insert_rows(sessions: Any, orders: list[CanonicalOrder], uids: dict[str, str] | None = None) -> list[int]:
    now = datetime.now(UTC)
    ids: list[int] = []
    async with sessions() as session, session.begin():
        for chunk in range(0, len(orders), 1000):
            rows = [
                {
                    "channel": o.channel,
                    "channel_order_id": o.channel_order_id,
                    "status": o.status.value,
                    "buyer_uid": None if uids is None else uids[o.channel_order_id],
                    "buyer_key_version": None if uids is None else 2,
                    "currency": "CNY",
                    "items_amount": o.items_amount,
                    "shipping_amount": 0,
                    "discount_amount": 0,
                    "total_amount": o.total_amount,
                    "placed_at": o.placed_at,
                    "paid_at": o.paid_at,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for o in orders[chunk : chunk + 1000]
            ]
            result = await (await session.connection()).execute(insert(Order).returning(Order.id), rows)
            ids.extend(int(r[0]) for r in result)
    return ids


async def _pipeline(sessions: Any, identity: BuyerIdentity, orders: list[CanonicalOrder], ids: list[int]) -> float:
    started = time.perf_counter()
    for chunk in range(0, len(orders), BATCH):
        batch = orders[chunk : chunk + BATCH]
        async with sessions() as session, session.begin():
            buyers = await resolve_buyers(session, identity, batch)
            sightings = [
                Sighting(o, ids[chunk + i], buyers[(o.channel, o.channel_order_id)], False) for i, o in enumerate(batch)
            ]
            await record_sightings(session, identity, Outbox(), sightings)
    return len(orders) / (time.perf_counter() - started)


async def _baseline(sessions: Any, orders: list[CanonicalOrder]) -> float:
    """A bare HMAC of an already-normalised number and one indexed lookup per order, batched alike."""
    e164s = [normalize_phone(o.buyer_phone) if o.buyer_phone else "+8613800000000" for o in orders]
    started = time.perf_counter()
    for chunk in range(0, len(orders), BATCH):
        uids = [derive_uid(e, KEYS[0]).value for e in e164s[chunk : chunk + BATCH]]
        async with sessions() as session, session.begin():
            await (await session.connection()).execute(
                text("SELECT uid FROM buyer_channel WHERE uid = ANY(:uids)"), {"uids": uids}
            )
    return len(orders) / (time.perf_counter() - started)


async def _grouping(sessions: Any, identity: BuyerIdentity, groups: int) -> tuple[float, int]:
    orders = _orders(groups * 3, 10_000_000, pending_groups=True)
    uids = {o.channel_order_id: identity.key_for_phone(o.buyer_phone).uid or "" for o in orders}
    ids = await _insert_rows(sessions, orders, uids)
    started = time.perf_counter()
    formed = 0
    for index in range(0, len(ids), 3):
        async with sessions() as session, session.begin():
            if await group_pending(session, Outbox(), ids[index], 300) is not None:
                formed += 1
    return groups / (time.perf_counter() - started), formed


async def run(admin_url: str, quick: bool) -> dict[str, Any]:
    count = 2_000 if quick else 20_000
    groups = 200 if quick else 1_000
    async with temporary_database(admin_url) as url:
        await migrate_async(sqlalchemy_url(url))
        engine = make_engine(sqlalchemy_url(url))
        sessions = make_session_factory(engine)
        identity = BuyerIdentity(KEYS)
        try:
            warm = _orders(300, 5_000_000)
            await _pipeline(sessions, identity, warm, await _insert_rows(sessions, warm))
            orders = _orders(count, 0)
            ids = await _insert_rows(sessions, orders)
            baseline = await _baseline(sessions, orders)
            pipeline = await _pipeline(sessions, identity, orders, ids)
            grouping, formed = await _grouping(sessions, identity, groups)
            version = await server_version(url)
        finally:
            await engine.dispose()
    return {
        "bench": "identity",
        "quick": quick,
        "orders": count,
        "batch": BATCH,
        "postgresql": version,
        "baseline_orders_per_s": round(baseline),
        "identity_orders_per_s": round(pipeline),
        "identity_ratio": round(pipeline / baseline, 3),
        "grouping_jobs_per_s": round(grouping),
        "grouping_ratio": round(grouping / baseline, 4),
        "groups_formed": formed,
        "day": date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    result = asyncio.run(run(args.admin_url, args.quick))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
