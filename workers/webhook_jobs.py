"""Webhook delivery attempts, the sweeper that re-enqueues what a crash left, and the notice of a disabled endpoint.

An attempt is claimed in one unit of work, posted with no transaction open, and recorded in another
(domain/webhooks/deliveries). A job for an endpoint already at its concurrency limit in this process goes back
to the queue at once instead of waiting in its slot, so a slow endpoint never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from datetime import timedelta
from typing import Any

from arq import Retry

from domain.outbox.service import Outbox
from domain.webhooks import deliveries
from domain.webhooks.endpoints import disabled_notice
from domain.webhooks.models import DeliveryState
from domain.webhooks.retry import retry_policy
from runtime import metrics
from runtime.notifiers import alert_robots, broadcast
from runtime.queues import WEBHOOKS
from runtime.webhook_sender import WebhookSender
from workers.jobs import runtime_of, unit_of_work

log = logging.getLogger(__name__)

UNCOMMITTED_TRIES = 5  # a first attempt may start before the relay's transaction that wrote it commits
SWEEP_LIMIT = 1000
OUTCOMES = {DeliveryState.DELIVERED: "delivered", DeliveryState.PENDING: "retrying", DeliveryState.FAILED: "failed"}


def sender_of(ctx: dict[str, Any]) -> WebhookSender:
    """One per worker process, made on first use."""
    sender: WebhookSender | None = ctx.get("webhook_sender")
    if sender is None:
        settings = runtime_of(ctx).settings
        sender = ctx["webhook_sender"] = WebhookSender(
            settings.webhook_timeout_seconds, settings.webhook_endpoint_concurrency
        )
    return sender


async def close_webhook_sender(ctx: dict[str, Any]) -> None:
    sender: WebhookSender | None = ctx.pop("webhook_sender", None)
    if sender is not None:
        await sender.close()


async def deliver_webhook(
    ctx: dict[str, Any], delivery_ids: list[int], endpoint_id: int, attempt: int, trigger: str | None = None
) -> str:
    """Makes attempt `attempt` + 1 of each delivery (all of one endpoint), once however often the job runs;
    returns how many ended in each state."""
    runtime, sender = runtime_of(ctx), sender_of(ctx)
    if not sender.has_room(endpoint_id):
        raise Retry(defer=timedelta(seconds=random.uniform(0.2, 1.0)))
    settings = runtime.settings
    rounds = math.ceil(len(delivery_ids) / max(1, settings.webhook_endpoint_concurrency))
    lease = timedelta(seconds=settings.webhook_timeout_seconds * rounds + 30)
    async with unit_of_work(ctx, wakes_relay=False) as session:
        claimed = await deliveries.claim(session, runtime.core.vault, delivery_ids, attempt, lease)
        missing = not claimed and not await deliveries.any_exist(session, delivery_ids)
    if not claimed:
        if missing and ctx.get("job_try", 1) < UNCOMMITTED_TRIES:
            raise Retry(defer=timedelta(seconds=0.2 * ctx.get("job_try", 1)))
        return "skipped"
    results = await asyncio.gather(*(sender.post(endpoint_id, one) for one in claimed))
    outbox, policy = Outbox(), retry_policy(settings)
    why = trigger or ("initial" if attempt == 0 else "retry")
    async with unit_of_work(ctx, wakes_relay=False) as session:
        recorded = [
            await deliveries.record(session, outbox, one, result, policy, why, settings.merchant_zone)
            for one, result in zip(claimed, results, strict=True)
        ]
    for result, r in zip(results, recorded, strict=True):
        metrics.count_webhook_attempt(
            OUTCOMES[r.state], result.duration_ms / 1000, endpoint_disabled=r.endpoint_disabled
        )
    if any(r.state is not DeliveryState.DELIVERED for r in recorded):  # retries or a notice went into the outbox
        runtime.relay.notify()
    if any(r.endpoint_disabled for r in recorded):
        log.warning("webhook endpoint %s disabled after repeated failures", endpoint_id)
    return " ".join(f"{state.value}={n}" for state, n in sorted(Counter(r.state for r in recorded).items()))


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Enqueues attempts overdue by more than the outbox grace period: an enqueue lost in a crash, or an attempt
    whose worker died before recording it. A duplicate enqueue is harmless: the claim lets one run through."""
    runtime = runtime_of(ctx)
    async with unit_of_work(ctx) as session:
        overdue = await deliveries.overdue(
            session, timedelta(seconds=runtime.settings.outbox_grace_seconds), SWEEP_LIMIT
        )
    for due in overdue:
        await runtime.redis.enqueue_job(
            deliveries.DELIVER_JOB, _job_id=due.job_id(), _queue_name=WEBHOOKS.name, **due.job_args()
        )
    return len(overdue)


async def notify_webhook_disabled(ctx: dict[str, Any], endpoint_id: int) -> bool:
    """Tells the DingTalk/WeCom groups; tried again (arq retries) until every robot took it."""
    async with unit_of_work(ctx) as session:
        notice = await disabled_notice(session, endpoint_id)
        robots = await alert_robots(runtime_of(ctx).core, session)
    if notice is None or not robots:
        if notice is not None:
            log.warning("webhook endpoint %s disabled; no DingTalk/WeCom robot configured to say so", endpoint_id)
        return False
    failures = await broadcast(robots, *notice)
    if failures:
        raise Retry(defer=timedelta(seconds=30 * ctx.get("job_try", 1)))
    return True
