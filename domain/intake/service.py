"""Reading the traffic mirror back; recording it is `domain.pipeline.record`."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.intake.models import InboundMessage
from domain.intake.vault import Vault


async def read_body(session: AsyncSession, vault: Vault, message_id: int) -> bytes:
    message = await session.get(InboundMessage, message_id)
    if message is None:
        raise LookupError(f"no inbound message {message_id}")
    return vault.open(message.body)
