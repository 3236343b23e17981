"""Find recorded messages that never got an outcome: their processor stopped between stages.

Every entry point writes an outcome for whatever it refused, applied or failed on, in the same
request; a message still PENDING after the grace period can only be one whose process died."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome

ABANDONED = "abandoned: the process handling it stopped before writing an outcome; replay the message to apply it"


async def fail_abandoned(session: AsyncSession, grace: timedelta) -> int:
    statement = (
        update(InboundMessage)
        .where(col(InboundMessage.outcome) == Outcome.PENDING, col(InboundMessage.received_at) < utcnow() - grace)
        .values(outcome=Outcome.FAILED, error=ABANDONED, processed_at=utcnow())
    )
    result = await session.exec(statement)
    return int(result.rowcount or 0)
