"""The warehouse and carrier evidence handler: one recorded event watched for drift per source
(`domain/channels/upstream.py`) and applied to its order (moved, noted or held as an exception) with the
message's outcome written in the same unit of work.

Evidence arrives as partner requests, recorded whole by the record stage before this runs. A request may
carry several mutations, so the caller can say how its outcome is written (`applied`); without one the
handler closes the message APPLIED itself. A refusal (UserError) leaves nothing behind: the caller's unit
of work rolls back and the caller writes REJECTED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels.upstream import evidence_fields, observe
from domain.errors import Problems
from domain.fulfilment.evidence import Evidence
from domain.fulfilment.service import FulfilmentService, Recorded
from domain.intake.models import Outcome
from domain.orders.service import Provenance
from domain.outbox.service import Outbox
from domain.pipeline.record import mark_outcome

OutcomeWriter = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Sender:
    """Who sent the evidence and the recorded message it came in; `channels` bounds the orders it may touch."""

    actor: str
    message_id: int | None
    channels: frozenset[str] | None = None


async def process_evidence(
    session: AsyncSession,
    evidence: Evidence | None,
    problems: Problems,
    sender: Sender,
    applied: OutcomeWriter | None = None,
) -> Recorded:
    """`evidence` as validated, with the `problems` validation found: any problem refuses it."""
    problems.raise_if_any()
    assert evidence is not None
    upstream, source, fields = evidence_fields(evidence)
    await observe(session, upstream, source, [fields])
    by = Provenance(evidence.source, sender.actor, sender.message_id, sender.channels)
    recorded = await FulfilmentService(session, Outbox()).record(evidence, by)
    if applied is not None:
        await applied(session)
    elif sender.message_id is not None:
        await mark_outcome(session, sender.message_id, Outcome.APPLIED)
    return recorded
