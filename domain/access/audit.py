"""The admin log: every change of who may do what (keys issued, rotated, revoked; staff accounts created,
disabled, re-roled) and of where alerts go (the alert robots), appended in the transaction that makes the change,
whoever makes it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import AdminLogEntry
from domain.clock import utcnow


class AdminAction(StrEnum):
    PARTNER_KEY_ISSUED = "PARTNER_KEY_ISSUED"
    PARTNER_KEY_ROTATED = "PARTNER_KEY_ROTATED"
    PARTNER_KEY_REVOKED = "PARTNER_KEY_REVOKED"
    STAFF_CREATED = "STAFF_CREATED"
    STAFF_DISABLED = "STAFF_DISABLED"
    STAFF_ROLES_CHANGED = "STAFF_ROLES_CHANGED"
    ALERT_ROBOT_SET = "ALERT_ROBOT_SET"
    ALERT_ROBOT_REMOVED = "ALERT_ROBOT_REMOVED"


SYSTEM_ACTOR = "system"
"""Changes made by orderhub itself (the demo's set-up, fixtures) rather than by a person."""


async def append(session: AsyncSession, actor: str, action: AdminAction, target: str, details: dict[str, Any]) -> None:
    """`details` never holds a secret: a key is named by its id and last four characters, a robot by its host."""
    session.add(AdminLogEntry(at=utcnow(), actor=actor, action=action.value, target=target, details=details))
    await session.flush()


async def entries(session: AsyncSession, first: int, before_id: int | None = None) -> tuple[list[AdminLogEntry], bool]:
    """Newest first; `before_id` is the cursor of the page's last entry. Returns the page and whether more follow."""
    query = select(AdminLogEntry).order_by(col(AdminLogEntry.id).desc()).limit(first + 1)
    if before_id is not None:
        query = query.where(col(AdminLogEntry.id) < before_id)
    rows = list((await session.exec(query)).all())
    return rows[:first], len(rows) > first
