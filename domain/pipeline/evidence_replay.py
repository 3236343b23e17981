"""Recorded warehouse and carrier events played back, per source, through today's watch rules and the
evidence handler (`domain/pipeline/evidence.py`).

Evidence arrives inside partner GraphQL requests, so reading a recorded body back into evidence is the API's
business: the caller passes an `EvidenceReader`. A dry run says, per event of the source, what the drift
watch finds against the source's baseline and whether the event would be recorded now or is on file
already; it counts nothing and is never committed. Applying runs each event not on file through
`process_evidence` in a savepoint of its own, so one refusal does not undo the rest; an event on file is
skipped, which is what makes a second apply record nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import PartnerKey
from domain.channels import drift
from domain.channels.cleaning import clean
from domain.channels.errors import IntakeErrorCode
from domain.channels.service import load_baseline, rules_in_force
from domain.channels.upstream import ENUM_PATHS, KIND, UpstreamKind, evidence_fields
from domain.errors import Problems, UserError
from domain.fulfilment.evidence import Evidence
from domain.fulfilment.models import FulfilmentEvidence
from domain.i18n import msg, render
from domain.intake.models import InboundMessage, SignatureVerdict
from domain.intake.vault import Vault
from domain.pipeline.evidence import Sender, process_evidence

MAX_REPLAY = 1000
"""Events answered at most per replay: narrow the window for more."""
PAGE = 200
PARTNER_REQUESTS = "graphql"
"""The kind the record stage gives partner GraphQL requests, which is how warehouse and carrier events arrive."""

EvidenceReader = Callable[[bytes], Sequence[tuple[Evidence | None, Problems]]]
"""A recorded request body -> the warehouse and carrier events it carries, each as validated (with the
problems validation found). Raises ValueError when the body is not such a request."""


class Verdict(StrEnum):
    RECORD = "RECORD"
    """Not on file: applying records it."""
    ON_FILE = "ON_FILE"
    """Recorded before (same source and event id): applying changes nothing."""
    REFUSED = "REFUSED"
    """Today's validation or the evidence handler refuses it."""


@dataclass
class ReplayedEvent:
    message_id: int
    received_at: datetime
    event_key: str | None
    order_reference: str | None
    verdict: Verdict
    findings: list[drift.Finding] = field(default_factory=list)
    error: str | None = None
    applied: bool = False
    outcome: str | None = None


def source_key(upstream: UpstreamKind, source: str) -> str:
    """`WH1` or `warehouse:WH1` alike: alerts and baselines name a source with its upstream prefix."""
    if upstream not in (UpstreamKind.WAREHOUSE, UpstreamKind.CARRIER):
        reason = msg("evidence replay is for WAREHOUSE or CARRIER sources, not {upstream}", upstream=upstream.value)
        raise UserError.one(("upstream",), reason, IntakeErrorCode.INVALID)
    prefix = f"{upstream.value.lower()}:"
    name = source.strip()
    return (name if name.startswith(prefix) else prefix + name)[:40]


async def replay_evidence(
    session: AsyncSession,
    vault: Vault,
    read: EvidenceReader,
    upstream: UpstreamKind,
    source: str,
    start: datetime | None,
    end: datetime | None,
    *,
    apply: bool = False,
    actor: str = "system:replay",
) -> list[ReplayedEvent]:
    """Dry run unless `apply`; the caller owns the unit of work (and rolls a dry run back)."""
    wanted = source_key(upstream, source)
    baseline = await load_baseline(session, wanted, KIND[upstream])
    _, rules = await rules_in_force(session, wanted, KIND[upstream])
    channels_of: dict[int, frozenset[str] | None] = {}
    results: list[ReplayedEvent] = []
    async for message in _partner_requests(session, start, end):
        assert message.id is not None
        if len(results) >= MAX_REPLAY:
            break
        try:
            events = read(vault.open(message.body))
        except ValueError:
            continue
        for evidence, problems in events:
            if evidence is None:
                continue
            kind, event_source, fields = evidence_fields(evidence)
            if kind is not upstream or event_source[:40] != wanted:
                continue
            item = ReplayedEvent(message.id, message.received_at, evidence.event_key, evidence.order_reference,
                                 Verdict.RECORD)  # fmt: skip
            if baseline is not None:
                item.findings = drift.compare(baseline.shape, clean(rules, fields), ENUM_PATHS[upstream])
            if problems.items:
                item.verdict, item.error = Verdict.REFUSED, "; ".join(render(p.message) for p in problems.items)
            elif await _on_file(session, evidence):
                item.verdict = Verdict.ON_FILE
            elif apply:
                channels = await _channels(session, message.partner_key_id, channels_of)
                sender = Sender(actor, message.id, channels)
                try:
                    async with session.begin_nested():
                        recorded = await process_evidence(session, evidence, problems, sender, _keep_outcome)
                    item.applied, item.outcome = True, recorded.outcome.value
                except UserError as error:
                    item.verdict, item.error = Verdict.REFUSED, error.worded()
            results.append(item)
    return results


async def _keep_outcome(session: AsyncSession) -> None:
    """A replayed request keeps the outcome it was given when it arrived: it may carry other mutations."""
    del session


async def _partner_requests(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> AsyncIterator[InboundMessage]:
    """Every partner request of the window in pages: most carry no event of the source asked for."""
    after = 0
    while True:
        query = (
            select(InboundMessage)
            .where(
                col(InboundMessage.source).startswith("partner:"),
                InboundMessage.kind == PARTNER_REQUESTS,
                InboundMessage.signature == SignatureVerdict.VALID,
                col(InboundMessage.id) > after,
            )
            .order_by(col(InboundMessage.id))
            .limit(PAGE)
        )
        if start is not None:
            query = query.where(col(InboundMessage.received_at) >= start)
        if end is not None:
            query = query.where(col(InboundMessage.received_at) < end)
        page = list((await session.exec(query)).all())
        for message in page:
            yield message
        if len(page) < PAGE:
            return
        after = page[-1].id or after


async def _on_file(session: AsyncSession, evidence: Evidence) -> bool:
    found = await session.exec(
        select(FulfilmentEvidence.id).where(
            FulfilmentEvidence.source == evidence.source.value, FulfilmentEvidence.event_key == evidence.event_key
        )
    )
    return found.first() is not None


async def _channels(
    session: AsyncSession, key_id: int | None, known: dict[int, frozenset[str] | None]
) -> frozenset[str] | None:
    """The channels the sending key served: a replay touches no order the partner could not."""
    if key_id is None:
        return frozenset()
    if key_id not in known:
        row = await session.get(PartnerKey, key_id)
        if row is None:
            known[key_id] = frozenset()
        else:
            known[key_id] = None if row.channels is None else frozenset(row.channels)
    return known[key_id]
