"""Deliveries: one per endpoint and event, each attempt claimed, made outside any transaction, then logged.

Every attempt runs in three steps: `claim` (a short transaction that counts the attempt and leases the delivery
for its timeout), the HTTP post (no transaction open), and `record` (the log row, the next retry through the
outbox, the endpoint's failure count). A worker that dies between claim and record leaves the delivery PENDING
with its lease run out; the sweeper enqueues it again. A delivery is never lost, and its webhook-id never changes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import PartnerKey
from domain.clock import shown, utcnow
from domain.errors import UserError
from domain.i18n import msg
from domain.intake.vault import Vault
from domain.orders.models import Order
from domain.outbox.models import OutboxKind, OutboxMessage
from domain.outbox.service import Outbox
from domain.sql import insert_ignore_many, take_sqlite_write_lock
from domain.webhooks.endpoints import Owner, disable, endpoint_of, signing_secrets
from domain.webhooks.errors import WebhookErrorCode
from domain.webhooks.events import NewEvent, events_of
from domain.webhooks.models import (
    DeliveryState,
    EndpointState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from domain.webhooks.retry import RetryPolicy

DELIVER_JOB = "deliver_webhook"
DISABLED_NOTICE_JOB = "notify_webhook_disabled"
LOGGED_BODY = 1000  # characters of a response body kept in the log


@dataclass(frozen=True)
class Subscription:
    endpoint_id: int
    event_types: frozenset[str]
    channels: frozenset[str] | None  # the partner key's sales channels; None: every channel


async def subscriptions(session: AsyncSession) -> list[Subscription]:
    """Active endpoints of unrevoked keys: what the outbox relay fans events out to."""
    statement = (
        select(col(WebhookEndpoint.id), WebhookEndpoint.event_types, PartnerKey.channels)
        .join(PartnerKey, col(PartnerKey.id) == col(WebhookEndpoint.partner_key_id))
        .where(col(WebhookEndpoint.state) == EndpointState.ACTIVE, col(PartnerKey.revoked_at).is_(None))
    )
    return [
        Subscription(int(i), frozenset(types), None if channels is None else frozenset(channels))
        for i, types, channels in (await session.exec(statement)).all()
        if i is not None
    ]


@dataclass(frozen=True)
class Due:
    """Deliveries of one endpoint whose attempt `attempt` + 1 is to be made by one job; `created_at` keeps the
    job id unique."""

    delivery_ids: tuple[int, ...]
    endpoint_id: int
    attempt: int
    created_at: datetime

    def job_id(self) -> str:
        first, count = self.delivery_ids[0], len(self.delivery_ids)
        return f"webhook:{first}+{count}:{self.attempt}:{int(self.created_at.timestamp() * 1_000_000)}"

    def job_args(self) -> dict[str, Any]:
        return {"delivery_ids": list(self.delivery_ids), "endpoint_id": self.endpoint_id, "attempt": self.attempt}


PER_JOB = 16
"""First attempts of one endpoint made by one job: a burst of events costs a job and two transactions per 16
deliveries, not per delivery. Small enough that a job of timeouts stays far within the queue's job timeout."""


def _grouped(made: Sequence[tuple[int, int]], now: datetime) -> list[Due]:
    by_endpoint: dict[int, list[int]] = {}
    for delivery_id, endpoint_id in made:
        by_endpoint.setdefault(endpoint_id, []).append(delivery_id)
    return [
        Due(tuple(ids[i : i + PER_JOB]), endpoint_id, 0, now)
        for endpoint_id, ids in by_endpoint.items()
        for i in range(0, len(ids), PER_JOB)
    ]


async def fan_out(session: AsyncSession, subs: Sequence[Subscription], rows: Sequence[OutboxMessage]) -> list[Due]:
    """The deliveries that published rows make, written in the caller's transaction (the relay's claim of those
    rows, so that they are written exactly when the rows are marked sent). An event already stored (a row sent
    again) makes nothing twice; an endpoint whose key is bound to channels hears only of its channels' orders."""
    if not subs:
        return []
    wanted = {t for s in subs for t in s.event_types}
    events = [
        e
        for row in rows
        if row.kind == OutboxKind.PUBLISH
        for e in events_of(row.target, row.payload, row.created_at)
        if e.type.value in wanted
    ]
    if not events:
        return []
    now = utcnow()
    stored = await insert_ignore_many(session, WebhookEvent, [_event_row(e, now) for e in events], ["key"])
    new = {str(key): int(event_id) for event_id, key in stored}
    channels = await _channels_of(session, {e.order_id for e in events if e.key in new and e.order_id is not None})
    pairs = [
        {"endpoint_id": s.endpoint_id, "event_id": new[e.key], "state": DeliveryState.PENDING.value, "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for e in events
        if e.key in new
        for s in subs
        if e.type.value in s.event_types and _may_hear(s, e, channels)
    ]  # fmt: skip
    made = await insert_ignore_many(session, WebhookDelivery, pairs, ["endpoint_id", "event_id"])
    return _grouped([(int(i), int(endpoint)) for i, endpoint, _ in made], now)


def _event_row(event: NewEvent, now: datetime) -> dict[str, Any]:
    return {
        "key": event.key, "message_id": event.message_id, "type": event.type.value, "order_id": event.order_id,
        "body": event.body(), "created_at": now,
    }  # fmt: skip


async def _channels_of(session: AsyncSession, order_ids: set[int]) -> dict[int, str]:
    if not order_ids:
        return {}
    found = await session.exec(select(Order.id, Order.channel).where(col(Order.id).in_(order_ids)))
    return {int(i): str(c) for i, c in found.all() if i is not None}


def _may_hear(sub: Subscription, event: NewEvent, channels: dict[int, str]) -> bool:
    if sub.channels is None:
        return True
    return event.order_id is not None and channels.get(event.order_id) in sub.channels


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    endpoint_id: int
    attempt: int  # this attempt's number, from 1
    created_at: datetime  # the delivery's, from which its retry period runs
    url: str
    message_id: str
    body: str
    signing_secrets: list[str]


async def claim(
    session: AsyncSession, vault: Vault, delivery_ids: Sequence[int], attempt: int, lease: timedelta
) -> list[Claimed]:
    """Counts attempt `attempt` + 1 of each delivery still pending after `attempt` tries; leaves out those another
    run already made and those done, and gives all up when their endpoint is off or its key revoked. Leased
    until `lease` from now: past that, an attempt that never got recorded is the sweeper's."""
    now = utcnow()
    claimed = (
        await session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(delivery_ids),
                col(WebhookDelivery.attempts) == attempt,
                col(WebhookDelivery.state) == DeliveryState.PENDING,
            )
            .values(attempts=attempt + 1, next_attempt_at=now + lease)
            .returning(
                col(WebhookDelivery.id), col(WebhookDelivery.endpoint_id), col(WebhookDelivery.event_id),
                col(WebhookDelivery.created_at),
            )
        )
    ).all()  # fmt: skip
    if not claimed:
        return []
    endpoint = await session.get(WebhookEndpoint, claimed[0][1])
    assert endpoint is not None and all(row[1] == endpoint.id for row in claimed), "one endpoint per job"
    key = await session.get(PartnerKey, endpoint.partner_key_id)
    stopped = "endpoint disabled" if endpoint.state != EndpointState.ACTIVE else None
    if key is None or key.revoked_at is not None:
        stopped = "partner key revoked"
    if stopped is not None:  # given up rather than left to the sweeper, which would claim them again and again
        await session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_([row[0] for row in claimed]))
            .values(state=DeliveryState.FAILED.value, next_attempt_at=None, last_error=stopped)
        )
        return []
    events = await events_by_id(session, [row[2] for row in claimed])
    secrets = signing_secrets(vault, endpoint, now)
    return [
        Claimed(delivery_id, endpoint_id, attempt + 1, created_at, endpoint.url, events[event_id].message_id,
                events[event_id].body, secrets)
        for delivery_id, endpoint_id, event_id, created_at in sorted(claimed, key=lambda row: row[0])
    ]  # fmt: skip


@dataclass(frozen=True)
class AttemptResult:
    started_at: datetime
    duration_ms: int
    status: int | None = None
    body: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Any 2xx; a redirect is a failure (it is not followed: the registered URL is the endpoint)."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Recorded:
    state: DeliveryState
    next_attempt_at: datetime | None
    endpoint_disabled: bool


async def record(
    session: AsyncSession,
    outbox: Outbox,
    claimed: Claimed,
    result: AttemptResult,
    policy: RetryPolicy,
    trigger: str,
    tz: ZoneInfo,
    rng: random.Random | None = None,
) -> Recorded:
    """Logs the attempt; on failure schedules the next one through the outbox, or gives up once the retry period
    is over; counts the endpoint's failures and switches it off (with a notice to the group chats) when
    the policy says so.

    A success touches the endpoint's row only when it ends a run of failures: deliveries to one endpoint run
    in parallel, and a write on every success would make them queue for that row's lock."""
    now = utcnow()
    await session.execute(
        insert(WebhookAttempt.__table__),  # type: ignore[attr-defined]
        {
            "delivery_id": claimed.delivery_id, "attempt": claimed.attempt, "trigger": trigger[:220],
            "started_at": result.started_at, "duration_ms": result.duration_ms, "response_status": result.status,
            "response_body": None if result.body is None else result.body[:LOGGED_BODY], "error": result.error,
            "succeeded": result.succeeded,
        },
    )  # fmt: skip
    outcome = {"last_status": result.status, "last_error": result.error,
               "first_attempt_at": func.coalesce(WebhookDelivery.first_attempt_at, result.started_at)}  # fmt: skip
    delivery = update(WebhookDelivery).where(col(WebhookDelivery.id) == claimed.delivery_id)
    endpoint = update(WebhookEndpoint).where(col(WebhookEndpoint.id) == claimed.endpoint_id)
    if result.succeeded:
        await session.exec(delivery.values(state=DeliveryState.DELIVERED.value, delivered_at=now, next_attempt_at=None,
                                           **outcome))  # fmt: skip
        await session.exec(
            endpoint.where(col(WebhookEndpoint.consecutive_failures) > 0).values(consecutive_failures=0,
                                                                                 failing_since=None)
        )  # fmt: skip
        return Recorded(DeliveryState.DELIVERED, None, False)
    failing = (
        await session.exec(
            endpoint.values(
                consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
                failing_since=func.coalesce(WebhookEndpoint.failing_since, result.started_at),
            ).returning(
                col(WebhookEndpoint.consecutive_failures), col(WebhookEndpoint.failing_since),
                col(WebhookEndpoint.state),
            )
        )
    ).one()  # fmt: skip
    failures, failing_since, state = failing
    retry_at = policy.next_attempt(claimed.created_at, now, claimed.attempt, rng)
    if retry_at is None:
        await session.exec(delivery.values(state=DeliveryState.FAILED.value, next_attempt_at=None, **outcome))
    else:
        await session.exec(delivery.values(next_attempt_at=retry_at, **outcome))
        args = {"delivery_ids": [claimed.delivery_id], "endpoint_id": claimed.endpoint_id, "attempt": claimed.attempt}
        outbox.enqueue(DELIVER_JOB, args, defer_seconds=max(0, int((retry_at - now).total_seconds())))
    disabled = state == EndpointState.ACTIVE and policy.should_disable(failures, failing_since, now)
    if disabled:
        row = (await session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.id) == claimed.endpoint_id))).one()
        since = shown(failing_since, tz)
        reason = msg("{failures} attempts in a row failed since {since}", failures=failures, since=since)
        await disable(session, row, reason, now)
        outbox.enqueue(DISABLED_NOTICE_JOB, {"endpoint_id": claimed.endpoint_id})
    await outbox.flush(session)
    given_up = disabled or retry_at is None
    return Recorded(DeliveryState.FAILED if given_up else DeliveryState.PENDING, retry_at, disabled)


async def redeliver(session: AsyncSession, outbox: Outbox, owner: Owner, delivery_id: int) -> WebhookDelivery:
    """Tries a delivery again now, whatever became of it, with the same webhook-id (receivers drop what they
    already took). Its retry period starts afresh. Refused while its endpoint is off: enable it first."""
    await take_sqlite_write_lock(session)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise UserError.one(("id",), msg("no such webhook delivery"), WebhookErrorCode.NOT_FOUND)
    try:
        endpoint = await endpoint_of(session, owner, delivery.endpoint_id)
    except UserError as hidden:
        raise UserError.one(("id",), msg("no such webhook delivery"), WebhookErrorCode.NOT_FOUND) from hidden
    if endpoint.state != EndpointState.ACTIVE:
        raise UserError.one(
            ("id",), msg("its endpoint is disabled; enable it first"), WebhookErrorCode.ENDPOINT_DISABLED
        )
    now = utcnow()
    delivery.state, delivery.next_attempt_at, delivery.created_at = DeliveryState.PENDING.value, now, now
    session.add(delivery)
    await session.flush()
    args = {"delivery_ids": [delivery.id], "endpoint_id": endpoint.id, "attempt": delivery.attempts,
            "trigger": f"manual:{owner.actor}"}  # fmt: skip
    outbox.enqueue(DELIVER_JOB, args)
    await outbox.flush(session)
    return delivery


async def overdue(session: AsyncSession, older_than: timedelta, limit: int) -> list[Due]:
    """Pending deliveries whose attempt should have started `older_than` ago: an enqueue a crash lost, or an
    attempt whose worker died before recording it."""
    statement = (
        select(col(WebhookDelivery.id), WebhookDelivery.endpoint_id, WebhookDelivery.attempts)
        .where(
            col(WebhookDelivery.state) == DeliveryState.PENDING,
            col(WebhookDelivery.next_attempt_at) < utcnow() - older_than,
        )
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(limit)
    )
    now = utcnow()
    return [Due((i,), e, a, now) for i, e, a in (await session.exec(statement)).all() if i is not None]


async def deliveries_of(
    session: AsyncSession, endpoint_id: int, first: int, after_id: int | None
) -> tuple[list[WebhookDelivery], bool]:
    """Newest first."""
    statement = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(first + 1)
    )
    if after_id is not None:
        statement = statement.where(col(WebhookDelivery.id) < after_id)
    rows = list((await session.exec(statement)).all())
    return rows[:first], len(rows) > first


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    statement = (
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.attempt))
    )
    for row in (await session.exec(statement)).all():
        found[row.delivery_id].append(row)
    return found


async def any_exist(session: AsyncSession, delivery_ids: Sequence[int]) -> bool:
    found = await session.exec(select(col(WebhookDelivery.id)).where(col(WebhookDelivery.id).in_(delivery_ids)))
    return found.first() is not None


async def events_by_id(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, WebhookEvent]:
    found = await session.exec(select(WebhookEvent).where(col(WebhookEvent.id).in_(set(event_ids))))
    return {row.id: row for row in found.all() if row.id is not None}
