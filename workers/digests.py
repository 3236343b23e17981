"""Alerts leave for the group chats as one digest: nothing is marked sent unless every robot took it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from runtime.notifiers import Robot, alert_robots, broadcast
from workers.jobs import runtime_of, unit_of_work

log = logging.getLogger(__name__)

Pending = TypeVar("Pending")


async def deliver_digest(
    ctx: dict[str, Any],
    robots: list[Robot] | None,
    what: str,
    collect: Callable[[AsyncSession], Awaitable[tuple[list[Pending], tuple[str, str]] | None]],
    mark_sent: Callable[[AsyncSession, list[Pending]], Awaitable[None]],
) -> int:
    """`collect` reads what is unsent and its message (None: nothing to send); returns how many items left.
    `robots` None: the robots in force (runtime.notifiers.alert_robots)."""
    async with unit_of_work(ctx) as session:
        robots = await alert_robots(runtime_of(ctx).core, session) if robots is None else robots
        found = await collect(session) if robots else None
    if found is None:  # nothing to send, or no robot to send it through
        return 0
    pending, (title, text) = found
    failures = await broadcast(robots, title, text)
    if failures:
        log.warning("%s not delivered: %s", what, "; ".join(failures))
        return 0
    async with unit_of_work(ctx) as session:
        await mark_sent(session, pending)
    return len(pending)
