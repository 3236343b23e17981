"""Partner webhooks end to end: a committed change leaves through the outbox, a real arq worker posts it to
local HTTP endpoints that verify the Standard Webhooks signature, failures are logged and retried with the same
webhook-id, a slow endpoint holds up no other, and an endpoint that keeps failing is switched off with a notice."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import update
from sqlmodel import col, select

from api.graphql.ids import encode_gid
from domain.access.models import PartnerKey
from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from domain.reconcile import service as statements
from domain.webhooks import endpoints
from domain.webhooks.deliveries import redeliver
from domain.webhooks.endpoints import Owner
from domain.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from runtime.process import Runtime
from runtime.queues import DEFAULT, WEBHOOKS
from sim.statements import BillRow, wechat_trade_bill
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.webhook_receivers import Receivers, start_receivers
from workers.settings import create_worker
from workers.webhook_jobs import close_webhook_sender, deliver_webhook, sender_of, sweep_webhooks

ADMIN = Owner("staff:admin@shop.example")


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    started = start_receivers()
    yield started
    started.server.stop()


@pytest.fixture
def hooks(rt: Runtime, receivers: Receivers) -> Iterator[Callable[..., None]]:
    """Replaces webhook settings on the running core for one test; restores them after."""
    kept = rt.core.settings
    receivers.received.clear()
    receivers.robot_messages.clear()
    receivers.secrets.clear()

    def configure(**changes: Any) -> None:
        rt.core.settings = kept.model_copy(update=changes)

    yield configure
    rt.core.settings = kept


async def _register(rt: Runtime, receivers: Receivers, path: str, types: list[str], **kw: Any) -> int:
    async with rt.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, f"erp-{path}", ["orders:read"])
        row, secret = await endpoints.register(
            session, rt.core.vault, ADMIN, url=receivers.url(path), event_types=types, partner_key_id=key.id, **kw
        )
    receivers.secrets.setdefault(path, []).append(secret)
    assert rt.relay.webhooks is not None
    rt.relay.webhooks.forget()
    assert row.id is not None
    return row.id


async def _submit(api: Api, creds: Credentials, ref: str) -> None:
    answer = await api.gql(SUBMIT_ORDER, {"input": order_input(ref)}, headers=creds.writer)
    assert answer["data"]["submitOrder"]["userErrors"] == []
    await api.runtime.relay.drained()


@contextlib.asynccontextmanager
async def _workers(rt: Runtime, *queues: Any) -> AsyncIterator[None]:
    running = [create_worker(rt, q, poll_delay=0.02) for q in queues]
    tasks = [asyncio.create_task(w.async_run()) for w in running]
    try:
        yield
    finally:
        for worker, task in zip(running, tasks, strict=True):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(asyncio.CancelledError):  # a job still running is cancelled with it
                await worker.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not done within {seconds} s")


async def _deliveries(rt: Runtime, endpoint_id: int) -> list[WebhookDelivery]:
    async with rt.core.sessions() as session:
        query = (
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(col(WebhookDelivery.id))
        )
        return list((await session.exec(query)).all())


async def _attempts(rt: Runtime, endpoint_id: int) -> list[WebhookAttempt]:
    async with rt.core.sessions() as session:
        query = (
            select(WebhookAttempt)
            .join(WebhookDelivery, col(WebhookDelivery.id) == col(WebhookAttempt.delivery_id))
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(col(WebhookAttempt.id))
        )
        return list((await session.exec(query)).all())


async def _settled(rt: Runtime, endpoint_id: int, count: int, state: str) -> bool:
    found = await _deliveries(rt, endpoint_id)
    return len(found) == count and all(d.state == state for d in found)


async def test_a_committed_change_reaches_the_subscribed_endpoint_signed_once(
    api: Api, creds: Credentials, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    hooks()
    changed = await _register(rt, receivers, "/ok/a", ["order.status_changed"])
    shipped_only = await _register(rt, receivers, "/ok/b", ["order.shipped"])
    await _submit(api, creds, "WH-1")
    async with _workers(rt, WEBHOOKS):
        await _until(lambda: _settled(rt, changed, 1, "DELIVERED"))
    [got] = receivers.at("/ok/a")
    assert got.verified_by == receivers.secrets["/ok/a"]
    body = json.loads(got.body)
    assert body["type"] == "order.status_changed" and body["data"]["status"] == "PENDING_PAYMENT"
    async with rt.core.sessions() as session:
        [event] = (await session.exec(select(WebhookEvent))).all()
    assert got.webhook_id == event.message_id and got.body == event.body
    [attempt] = await _attempts(rt, changed)
    assert (attempt.attempt, attempt.response_status, attempt.succeeded, attempt.error) == (1, 200, True, None)
    assert attempt.duration_ms >= 0 and attempt.response_body == "thanks"
    assert receivers.at("/ok/b") == [] and await _deliveries(rt, shipped_only) == []


async def test_failures_are_logged_and_retried_with_the_same_id_and_hold_up_no_other_endpoint(
    api: Api, creds: Credentials, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    receivers.slow_seconds = 1.5
    hooks(webhook_timeout_seconds=0.4, webhook_endpoint_concurrency=1, webhook_backoff_base_seconds=1,
          webhook_retry_hours=4 / 3600)  # fmt: skip
    types = ["order.status_changed"]
    fail, moved, slow, ok = [await _register(rt, receivers, p, types) for p in ("/fail", "/redirect", "/slow", "/ok/d")]
    for ref in ("WH-2", "WH-3"):
        await _submit(api, creds, ref)
    async with _workers(rt, WEBHOOKS):
        await _until(lambda: _settled(rt, ok, 2, "DELIVERED"))
        for failing in (fail, moved, slow):
            await _until(lambda failing=failing: _settled(rt, failing, 2, "FAILED"))  # type: ignore[misc]
    logged = {endpoint: await _attempts(rt, endpoint) for endpoint in (fail, moved, slow)}
    assert {(a.response_status, a.error) for a in logged[fail]} == {(500, "HTTP 500")}
    assert all(a.response_body == '{"error":"database is down"}' for a in logged[fail])
    assert all(a.response_status == 302 and "not followed" in (a.error or "") for a in logged[moved])
    assert receivers.at("/moved") == []  # the redirect was not followed
    assert all(a.response_status is None and "timed out" in (a.error or "") for a in logged[slow])
    for endpoint in (fail, moved, slow):
        for delivery in await _deliveries(rt, endpoint):
            mine = [a for a in logged[endpoint] if a.delivery_id == delivery.id]
            assert delivery.attempts == len(mine) >= (1 if endpoint == slow else 2)  # retried, every try logged
            assert [a.attempt for a in mine] == list(range(1, len(mine) + 1))
    ids = [r.webhook_id for r in receivers.at("/fail")]
    assert len(ids) >= 4 and len(set(ids)) == 2  # each retry carries its delivery's id
    assert all(r.verified_by for r in receivers.at("/fail"))


async def test_an_endpoint_failing_long_enough_is_disabled_and_the_group_chat_told(
    api: Api, creds: Credentials, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    hooks(webhook_disable_after_failures=2, webhook_disable_after_hours=0, webhook_backoff_base_seconds=1,
          dingtalk_webhook=receivers.url("/dingtalk"))  # fmt: skip
    dead = await _register(rt, receivers, "/fail", ["order.status_changed"])
    await _submit(api, creds, "WH-4")
    async with _workers(rt, WEBHOOKS, DEFAULT):
        await _until(lambda: _settled(rt, dead, 1, "FAILED"))
        await _until(lambda: asyncio.sleep(0, bool(receivers.robot_messages)))
    async with rt.core.sessions() as session:
        row = await session.get(WebhookEndpoint, dead)
    assert row is not None and row.state == "DISABLED" and "2 attempts in a row failed" in (row.disabled_reason or "")
    [delivery] = await _deliveries(rt, dead)
    assert (delivery.attempts, delivery.last_error) == (2, f"endpoint disabled: {row.disabled_reason}")
    [notice] = receivers.robot_messages
    assert receivers.url("/fail") in notice["markdown"]["text"] and "erp-/fail" in notice["markdown"]["text"]
    assert "连续 2 次推送失败" in notice["markdown"]["text"]  # the group chat reads it in the merchant's language
    why = """query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { disabledReason } } }"""
    gid = {"id": encode_gid("WebhookEndpoint", dead)}
    zh = await api.gql(why, gid, headers={**creds.admin, "Accept-Language": "zh-CN"})
    en = await api.gql(why, gid, headers={**creds.admin, "Accept-Language": "en"})
    assert en["data"]["node"]["disabledReason"] == row.disabled_reason
    assert (
        zh["data"]["node"]["disabledReason"].startswith("自 ")
        and "起连续 2 次推送失败" in zh["data"]["node"]["disabledReason"]
    )
    rt.relay.webhooks.forget()  # type: ignore[union-attr]
    await _submit(api, creds, "WH-5")
    assert len(await _deliveries(rt, dead)) == 1  # a disabled endpoint is sent nothing new
    async with rt.core.sessions() as session, session.begin():
        row = await endpoints.change(session, ADMIN, dead, enabled=True)
    assert (row.state, row.consecutive_failures, row.failing_since) == ("ACTIVE", 0, None)


async def test_the_sweeper_sends_a_delivery_whose_enqueue_was_lost(
    api: Api, creds: Credentials, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    hooks()
    endpoint = await _register(rt, receivers, "/ok/c", ["order.status_changed"])
    await _submit(api, creds, "WH-6")
    await rt.redis.flushdb()  # the first attempt's job is gone, as after a Redis failover that lost it
    async with rt.core.sessions() as session, session.begin():
        await session.exec(update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(minutes=5)))
    assert await sweep_webhooks({"runtime": rt}) == 1
    async with _workers(rt, WEBHOOKS):
        await _until(lambda: _settled(rt, endpoint, 1, "DELIVERED"))
    assert len(receivers.at("/ok/c")) == 1


async def test_an_attempt_for_an_endpoint_at_its_limit_gives_its_worker_slot_back_at_once(
    api: Api, creds: Credentials, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    hooks(webhook_endpoint_concurrency=1)
    endpoint = await _register(rt, receivers, "/ok/c", ["order.status_changed"])
    await _submit(api, creds, "WH-7")
    [delivery] = await _deliveries(rt, endpoint)
    ctx: dict[str, Any] = {"runtime": rt, "job_try": 1}
    sender = sender_of(ctx)
    sender._busy[endpoint] = 1  # an attempt to this endpoint is in flight in this process
    try:
        with pytest.raises(Retry):
            await deliver_webhook(ctx, [delivery.id or 0], endpoint, 0)
        [untouched] = await _deliveries(rt, endpoint)
        assert untouched.attempts == 0 and receivers.at("/ok/c") == []
        sender._busy[endpoint] = 0
        assert await deliver_webhook(ctx, [delivery.id or 0], endpoint, 0) == "DELIVERED=1"
        assert await deliver_webhook(ctx, [delivery.id or 0], endpoint, 0) == "skipped"  # arq ran it twice
        assert len(receivers.at("/ok/c")) == 1
        async with rt.core.sessions() as session, session.begin():
            endpoint_row = await session.get(WebhookEndpoint, endpoint)
            assert endpoint_row is not None
            await session.exec(
                update(PartnerKey).where(col(PartnerKey.id) == endpoint_row.partner_key_id).values(revoked_at=utcnow())
            )
            await redeliver(session, Outbox(), ADMIN, delivery.id or 0)
        assert await deliver_webhook(ctx, [delivery.id or 0], endpoint, 1) == "skipped"
        [revoked] = await _deliveries(rt, endpoint)
        assert (revoked.state, revoked.last_error) == ("FAILED", "partner key revoked")
        assert len(receivers.at("/ok/c")) == 1  # nothing more reaches a revoked partner
    finally:
        await close_webhook_sender(ctx)


async def test_payments_and_reconciliation_runs_become_events_for_the_endpoints_granted_them(
    api: Api, receivers: Receivers, hooks: Callable[..., None]
) -> None:
    rt = api.runtime
    hooks()
    finance = await _register(rt, receivers, "/ok/b", ["payment.posted", "reconciliation.finished"])
    day = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    async with rt.core.sessions() as session, session.begin():
        outbox = Outbox()
        notice = PaymentNotice("wechatpay", "W1", VoucherKind.PAYMENT, "NO-SUCH-ORDER", 9590, "CNY",
                               VoucherStatus.CONFIRMED, day)  # fmt: skip
        await post_notice(session, notice, outbox=outbox, received_at=day)
        await outbox.flush(session)
        data = wechat_trade_bill([BillRow(day, "W1", "NO-SUCH-ORDER", "PAYMENT", 9590)])
        imported = await statements.import_statement(
            session, "wx.csv", data, statements.parse_statement("wx.csv", data), "finance@shop.example"
        )
        [run] = await statements.reconcile(session, [imported.statement_id], trigger="test", outbox=Outbox())
    rt.relay.notify()
    await rt.relay.drained()
    async with rt.core.sessions() as session:
        found = (await session.exec(select(WebhookEvent).order_by(col(WebhookEvent.id)))).all()
    assert [e.type for e in found] == ["payment.posted", "reconciliation.finished"]
    posted, finished = (json.loads(e.body)["data"] for e in found)
    assert posted["amount"] == {"amount": "95.90", "currencyCode": "CNY"} and posted["providerTransactionId"] == "W1"
    assert finished["run"] == f"gid://orderhub/ReconRun/{run.id}" and finished["statementLines"] == 1
    assert len(await _deliveries(rt, finance)) == 2
