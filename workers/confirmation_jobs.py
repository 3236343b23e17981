"""Shipment confirmations to the channels, and the one alert when a channel refuses a shop's credentials."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from domain.clock import utcnow
from domain.confirmations.answer import Answer
from domain.confirmations.channels import api_of
from domain.confirmations.models import ConfirmationState
from domain.confirmations.service import RetryPolicy, prepare_call, record_answer, requeue_stalled
from domain.i18n import tr
from domain.outbox.service import Outbox
from domain.shops.models import Shop
from runtime import metrics
from runtime.notifiers import alert_robots, broadcast
from workers.jobs import runtime_of, unit_of_work

log = logging.getLogger(__name__)


async def confirm_shipment(ctx: dict[str, Any], confirmation_id: int) -> str | None:
    """One attempt: read, call the channel outside any transaction, record the answer. A second run of the same
    attempt (arq delivers at least once) finds it recorded and records nothing; the channel, asked twice,
    answers "already shipped". Returns the state the confirmation is left in, or None when nothing was sent."""
    runtime = runtime_of(ctx)
    settings = runtime.settings
    async with unit_of_work(ctx) as session:
        call = await prepare_call(session, runtime.core.vault, confirmation_id)
    api = api_of(call.channel) if call is not None else None
    if call is None or api is None:
        return None
    request = api.build(call.parcel, call.credentials, utcnow())
    started = time.perf_counter()
    reply = await runtime.channel_calls.send(api.base_url(settings), request, settings.channel_call_timeout_seconds)
    seconds = time.perf_counter() - started
    answer = reply if isinstance(reply, Answer) else api.read(reply)
    policy = RetryPolicy(
        settings.confirmation_max_attempts,
        settings.confirmation_backoff_seconds,
        settings.confirmation_backoff_cap_seconds,
    )
    async with unit_of_work(ctx) as session:
        state = await record_answer(session, Outbox(), call, answer, policy)
    if state is not None:  # None: another run of this attempt counted it
        outcome = "retrying" if state is ConfirmationState.PENDING else state.value.lower()
        metrics.count_confirmation(call.channel, outcome, seconds)
    log.info(
        "confirmation %s attempt %s: %s %s -> %s", confirmation_id, call.attempt, answer.verdict, answer.code, state
    )
    return None if state is None else state.value


async def alert_refused_credentials(ctx: dict[str, Any], shop_id: int) -> bool:
    """Enqueued once per refusal (see domain.shops.service.refuse_credentials); says nothing if new credentials
    were set meanwhile. A robot that fails makes arq try again."""
    runtime = runtime_of(ctx)
    async with unit_of_work(ctx) as session:
        shop = await session.get(Shop, shop_id)
        robots = await alert_robots(runtime.core, session)
    if shop is None or shop.credentials_refused_at is None:
        return False
    title = tr("orderhub: {channel} refused the credentials of shop {shop}", channel=shop.channel, shop=shop.name)
    text = tr(
        "**{channel} shop {shop}** ({code}) refused orderhub's credentials (fingerprint {fingerprint}): {reason}.",
        channel=shop.channel,
        shop=shop.name,
        code=shop.code,
        fingerprint=shop.credentials_fingerprint,
        reason=shop.credentials_refusal,
    )
    text += "\n\n" + tr(
        "Shipment confirmations to this shop wait until an admin sets new credentials (setShopCredentials)."
    )
    log.warning("%s", title)  # in the log as well: a deployment may have no robot configured
    failures = await broadcast(robots, title, text)
    if failures:
        raise RuntimeError("; ".join(failures))
    return True


async def sweep_confirmations(ctx: dict[str, Any]) -> int:
    """Cron: sends again the confirmations left pending past the longest back-off (see requeue_stalled)."""
    runtime = runtime_of(ctx)
    stalled_after = timedelta(seconds=2 * runtime.settings.confirmation_backoff_cap_seconds)
    async with unit_of_work(ctx) as session:
        return await requeue_stalled(session, Outbox(), stalled_after)
