"""Side effects leave after commit through the outbox: pushes reach Redis subscribers, jobs run
in a real arq worker against a real Redis, exactly once, and a crash between commit and send
loses nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlmodel import col, select

from domain.clock import utcnow
from domain.orders.models import OrderEvent
from domain.outbox.models import OutboxMessage
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import check_payment_deadline, sweep_outbox
from workers.outbox_relay import channel_name
from workers.settings import create_worker


async def test_push_is_published_after_commit(api: Api, creds: Credentials) -> None:
    pubsub = api.runtime.redis.pubsub()
    await pubsub.subscribe(channel_name("orders"))
    try:
        created = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
        order = created["data"]["submitOrder"]["order"]
        mine = (int(order["id"].rsplit("/", 1)[1]), order["buyerUid"])
        await api.runtime.relay.drained()
        envelope: dict[str, object] = {}
        async with asyncio.timeout(5):
            # the channel may be shared with other orderhub processes on this Redis
            while (envelope.get("order_id"), envelope.get("buyer_uid"), envelope.get("version")) != (*mine, 1):
                message = await pubsub.get_message(timeout=1)
                if message is not None and message["type"] == "message":
                    envelope = json.loads(message["data"])
        assert envelope["version"] == 1
        assert envelope["status"] == "PENDING_PAYMENT"
        assert envelope["event_id"] == f"{mine[0]}:1"
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
    async with api.runtime.core.sessions() as session:
        unsent = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))).all()
    assert unsent == []


async def test_worker_runs_the_deadline_job_once(api: Api, creds: Credentials) -> None:
    # placed yesterday evening: its 30-minute deadline is long past, so the job is due at once
    await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    await api.runtime.relay.drained()
    worker = create_worker(api.runtime, burst=True, poll_delay=0.05)
    await worker.async_run()
    assert worker.jobs_complete >= 1
    assert worker.jobs_failed == 0
    async with api.runtime.core.sessions() as session:
        events = (await session.exec(select(OrderEvent).order_by(col(OrderEvent.version)))).all()
    assert [e.type for e in events] == ["ORDER_PLACED", "PAYMENT_OVERDUE"]
    assert events[1].source == "SYSTEM"
    # arq delivers at least once: a second delivery of the same job changes nothing
    again = await check_payment_deadline({"runtime": api.runtime}, events[0].order_id)
    assert again is False
    async with api.runtime.core.sessions() as session:
        assert len((await session.exec(select(OrderEvent))).all()) == 2
    await worker.close()


async def test_paid_order_is_not_flagged(api: Api, creds: Credentials) -> None:
    paid = order_input(status="PAID", paidAt="2026-11-24T20:16:40+08:00")
    created = await api.gql(SUBMIT_ORDER, {"input": paid}, headers=creds.writer)
    order_id = int(created["data"]["submitOrder"]["order"]["id"].rsplit("/", 1)[1])
    assert await check_payment_deadline({"runtime": api.runtime}, order_id) is False


async def test_rows_left_by_a_crash_are_swept_and_enqueued_once(api: Api) -> None:
    """A commit whose relay never ran (the process died) is sent by the sweeper."""
    old = utcnow() - timedelta(minutes=10)
    row = {"kind": "JOB", "target": "check_payment_deadline", "payload": {"order_id": 999}, "defer_seconds": 0}
    async with api.runtime.core.sessions() as session, session.begin():
        await session.execute(insert(OutboxMessage), [{**row, "created_at": old}])
    ctx = {"runtime": api.runtime}
    assert await sweep_outbox(ctx) == 1
    assert await sweep_outbox(ctx) == 0
    queued = await api.runtime.redis.queued_jobs()
    assert [job.function for job in queued] == ["check_payment_deadline"]
    async with api.runtime.core.sessions() as session, session.begin():
        await session.exec(OutboxMessage.__table__.update().values(sent_at=None))  # type: ignore[attr-defined]
    await sweep_outbox(ctx)  # the same row sent again: the job id refuses a second job
    assert len(await api.runtime.redis.queued_jobs()) == 1


async def test_deadline_job_waits_for_a_fresh_order(api: Api, creds: Credentials) -> None:
    placed = utcnow().replace(microsecond=0).isoformat()
    await api.gql(SUBMIT_ORDER, {"input": order_input(placedAt=placed)}, headers=creds.writer)
    async with api.runtime.core.sessions() as session:
        jobs = {m.target: m for m in (await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "JOB")))}
    assert 29 * 60 <= jobs["check_payment_deadline"].defer_seconds <= 30 * 60
    assert 4 * 60 <= jobs["group_pending_orders"].defer_seconds <= 5 * 60  # the merge window runs from placement


async def test_transient_database_failure_asks_arq_to_retry(api: Api) -> None:
    """A database that is down is a reason to try again later, not a failed job."""
    from arq import Retry

    from domain.db import make_engine, make_session_factory

    broken = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    saved = api.runtime.core.sessions
    api.runtime.core.sessions = make_session_factory(broken)
    try:
        with pytest.raises(Retry):
            await check_payment_deadline({"runtime": api.runtime, "job_try": 1}, 1)
    finally:
        api.runtime.core.sessions = saved
        await broken.dispose()
