"""Write side effects as rows; a relay outside the transaction sends them after commit.

A crash between commit and send delays a push or a job, never loses one: the rows stay
unsent until a relay (or the sweeper) sends them. Job ids derive from the row id, so a
row sent twice enqueues once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.outbox.carry import carried
from domain.outbox.models import OutboxKind, OutboxMessage
from domain.sql import dialect


class Outbox:
    """Collects rows during a unit of work and writes them in one statement at flush."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._add(OutboxKind.PUBLISH, topic, payload, 0)

    def enqueue(self, job: str, payload: dict[str, Any], *, defer_seconds: int = 0) -> None:
        self._add(OutboxKind.JOB, job, payload, defer_seconds)

    def _add(self, kind: OutboxKind, target: str, payload: dict[str, Any], defer: int) -> None:
        carry = carried() if kind is OutboxKind.JOB else None
        self.rows.append(
            {"kind": kind.value, "target": target, "payload": payload, "defer_seconds": defer,
             "created_at": utcnow(), "carry": carry}
        )  # fmt: skip

    async def flush(self, session: AsyncSession) -> int:
        count = len(self.rows)
        if self.rows:
            # on the table: a plain executemany, without the ORM's bulk path (once per unit of work)
            await session.execute(insert(OutboxMessage.__table__), self.rows)  # type: ignore[attr-defined]
            self.rows = []
        return count


def job_id(message: OutboxMessage) -> str:
    """Stable for a row, and never reused by another row even if ids restart (a restored database)."""
    return f"outbox:{message.id}:{int(message.created_at.timestamp() * 1_000_000)}"


async def claim_unsent(
    session: AsyncSession, *, limit: int, older_than: timedelta | None = None
) -> list[OutboxMessage]:
    """Unsent rows, oldest first, marked sent in the same statement that claims them: the caller sends
    them before its transaction commits, and a failed send rolls the mark back. On PostgreSQL the rows
    stay locked until then, and rows another relay holds are skipped.

    One UPDATE ... RETURNING instead of a SELECT and an UPDATE: each relay pass runs after a commit, and
    under single-order traffic that is once or more per request, so a statement less there is a
    statement less per request."""
    pick = select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id).limit(limit)  # type: ignore[union-attr,arg-type]
    if older_than is not None:
        pick = pick.where(OutboxMessage.created_at < utcnow() - older_than)
    if dialect(session) == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pick.scalar_subquery()))  # type: ignore[union-attr]
        .values(sent_at=utcnow())
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.scalars(statement)).all())
    rows.sort(key=lambda row: row.id or 0)
    return rows
