"""Find recorded messages that never got an outcome: their processor stopped between stages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome

ABANDONED = "no outcome recorded: the process handling it stopped; replay the message to apply it"


async def fail_abandoned(session: AsyncSession, grace: timedelta) -> int:
    statement = (
        update(InboundMessage)
        .where(col(InboundMessage.outcome) == Outcome.PENDING, col(InboundMessage.received_at) < utcnow() - grace)
        .values(outcome=Outcome.FAILED, error=ABANDONED, processed_at=utcnow())
    )
    result = await session.exec(statement)
    return int(result.rowcount or 0)
