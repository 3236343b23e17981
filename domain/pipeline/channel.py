"""The channel payload handler: a recorded payload decoded, watched for drift, cleaned, normalized and
applied, with its outcome written in the same unit of work as the order it made.

Live traffic, replay and bulk intake all come here. A batch of one channel's payloads shares one unit of
work because what a unit of work costs whatever its size (the commit, reading the rules and the schema,
the order service's statements) then comes once per batch instead of once per payload. What one payload
does must still not cost another its outcome, so the batch is applied under a savepoint and, when a
payload is refused or fails, the others are applied again without it (each refusal named by its own
message) or one by one. Drift alerts and the learned schema are written once per batch with every
payload's share counted. Each message is given once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels import drift
from domain.channels.adapter import Adapter, normalize
from domain.channels.cleaning import Rule, clean
from domain.channels.models import ChannelIntake, SchemaBaseline
from domain.channels.service import (
    UNKNOWN,
    canonical_json,
    count_alerts,
    decode,
    learn_many,
    load_baseline,
    rules_in_force,
    source_and_kind,
)
from domain.clock import utcnow
from domain.errors import Problem, UserError
from domain.identity.service import BuyerIdentity
from domain.intake.models import InboundMessage, Outcome
from domain.intake.vault import Vault
from domain.orders.commands import CanonicalOrder
from domain.orders.service import OrderService, Provenance
from domain.outbox.service import Outbox
from domain.pipeline.message import in_domain_terms
from domain.pipeline.record import error_text, mark_outcome


@dataclass(frozen=True)
class ChannelMessage:
    """A recorded channel payload: `channel` as the sender named it, `body` the bytes it sent."""

    message_id: int
    channel: str
    body: bytes
    by: Provenance


@dataclass
class Handled:
    """What became of one payload; `problems` name the payload's own fields (`canonical...` for the order)."""

    message_id: int
    outcome: Outcome
    findings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    order_id: int | None = None
    rule_version: int | None = None
    canonical: CanonicalOrder | None = None
    error: str | None = None


@dataclass
class Prepared:
    """A payload through every stage that reads no order: ready to apply, or refused."""

    message: ChannelMessage
    findings: list[drift.Finding]
    channel: str = UNKNOWN
    adapter: Adapter | None = None
    payload: dict[str, Any] | None = None
    canonical: CanonicalOrder | None = None
    rule_version: int | None = None
    refusal: UserError | None = None
    learning: bool = False
    """The channel's schema is not pinned yet: an accepted payload teaches it."""

    def summary(self) -> list[str]:
        return [f"{f.change} {f.path} {f.detail}".strip() for f in self.findings]


@dataclass
class ChannelState:
    """What every payload of a channel needs, read once per unit of work."""

    rule_version: int
    rules: list[Rule]
    baseline: SchemaBaseline | None


def relocate(problems: Sequence[Problem]) -> list[Problem]:
    """Order service paths start at the batch index; a channel payload has one order, its canonical form."""
    return [
        Problem(("canonical", *p.field[1:]) if p.field and isinstance(p.field[0], int) else p.field, p.message, p.code)
        for p in problems
    ]


async def prepare(
    session: AsyncSession, message: ChannelMessage, states: dict[tuple[str, str], ChannelState] | None = None
) -> Prepared:
    """Decode, compare with the pinned schema, clean and normalize. Nothing is written: drift is counted
    by `count_drift`, the order by `apply`. `states` keeps each channel's rules and schema across a batch."""
    states = {} if states is None else states
    prepared = Prepared(message, [])
    try:
        adapter, payload = decode(message.channel, message.body)
        prepared.channel, _ = source_and_kind(message.channel)
        prepared.adapter, prepared.payload = adapter, payload
        key = (prepared.channel, adapter.kind)
        if key not in states:
            version, rules = await rules_in_force(session, prepared.channel, adapter.kind)
            states[key] = ChannelState(version, rules, await load_baseline(session, prepared.channel, adapter.kind))
        state = states[key]
        if state.baseline is not None and state.baseline.pinned_at is not None:
            prepared.findings = drift.compare(state.baseline.shape, payload, adapter.enum_paths, adapter.known_values())
        else:
            prepared.learning = True
        prepared.canonical = normalize(adapter, clean(state.rules, payload), prepared.channel)
        prepared.rule_version = state.rule_version
    except UserError as error:
        prepared.refusal = error
    return prepared


async def count_drift(session: AsyncSession, prepared: Sequence[Prepared]) -> None:
    """Every payload's differences counted, one statement per distinct alert rather than per payload."""
    found = [(p.channel, p.adapter.kind, f) for p in prepared if p.adapter is not None for f in p.findings]
    if found:
        await count_alerts(session, found, utcnow())


async def apply(session: AsyncSession, orders: OrderService, prepared: Sequence[Prepared]) -> list[int]:
    """Submit the prepared orders as one, keep what each payload became, teach the schema, close each APPLIED.

    Raises the order service's UserError (its paths start at the index in `prepared`); the caller's
    savepoint undoes the attempt."""
    canonicals = [p.canonical for p in prepared if p.canonical is not None]
    assert len(canonicals) == len(prepared)
    applied = await orders.submit(canonicals, [p.message.by for p in prepared])
    now = utcnow()
    rows = []
    learned: dict[tuple[str, str], tuple[Adapter, list[Any]]] = {}
    for item, canonical, result in zip(prepared, canonicals, applied, strict=True):
        assert item.adapter is not None
        rows.append({
            "inbound_message_id": item.message.message_id, "channel": item.channel, "kind": item.adapter.kind,
            "channel_order_id": canonical.channel_order_id, "order_id": result.order_id,
            "rule_version": item.rule_version, "canonical": canonical_json(canonical), "recorded_at": now,
        })  # fmt: skip
        if item.learning:
            learned.setdefault((item.channel, item.adapter.kind), (item.adapter, []))[1].append(item.payload)
    await session.execute(insert(ChannelIntake.__table__), rows)  # type: ignore[attr-defined]  # Core: no ORM bulk
    for (channel, _), (adapter, payloads) in learned.items():
        await learn_many(session, adapter, channel, payloads)
    ids = [p.message.message_id for p in prepared]
    await session.exec(
        update(InboundMessage)
        .where(col(InboundMessage.id).in_(ids))
        .values(outcome=Outcome.APPLIED, error=None, processed_at=now)
    )
    return [a.order_id for a in applied]


class ChannelPayloads:
    """The handler; the caller owns the unit of work (the API's request, a bulk run's batch)."""

    def __init__(
        self,
        identity: BuyerIdentity,
        payment_deadline_s: int,
        describe: Callable[[Sequence[Problem]], str] = in_domain_terms,
        vault: Vault | None = None,
    ) -> None:
        self.identity = identity
        self.payment_deadline_s = payment_deadline_s
        self.vault = vault
        self.describe = describe  # a refusal's stored reason, worded as the sender reads it

    def orders(self, session: AsyncSession) -> OrderService:
        return OrderService(session, self.identity, Outbox(), self.payment_deadline_s, self.vault)

    async def process(self, session: AsyncSession, message: ChannelMessage) -> Handled:
        """One payload; an unexpected failure propagates (the caller rolls back and writes FAILED)."""
        [handled] = await self._process(session, [message], isolate_failures=False)
        return handled

    async def process_batch(self, session: AsyncSession, messages: Sequence[ChannelMessage]) -> list[Handled]:
        """Many payloads in the caller's unit of work; one that fails unexpectedly is FAILED, alone."""
        return await self._process(session, messages, isolate_failures=True)

    async def _process(
        self, session: AsyncSession, messages: Sequence[ChannelMessage], *, isolate_failures: bool
    ) -> list[Handled]:
        states: dict[tuple[str, str], ChannelState] = {}
        prepared = [await prepare(session, m, states) for m in messages]
        await count_drift(session, prepared)
        handled = {p.message.message_id: _handled(p) for p in prepared}
        for run in _distinct_runs([p for p in prepared if p.refusal is None]):
            await _apply_run(session, lambda: self.orders(session), run, handled, isolate_failures)
        for item in handled.values():
            if item.outcome is Outcome.REJECTED:
                item.error = self.describe(item.problems)
            if item.outcome is not Outcome.APPLIED:
                await mark_outcome(session, item.message_id, item.outcome, item.error)
        return [handled[m.message_id] for m in messages]


async def _apply_run(
    session: AsyncSession,
    orders: Callable[[], OrderService],
    run: list[Prepared],
    handled: dict[int, Handled],
    isolate: bool,
) -> None:
    """Apply the run as one; a refused payload leaves it with its own problems and the rest is applied again.
    Each attempt has its own order service: what an undone attempt queued for the outbox goes with it."""
    while run:
        try:
            async with session.begin_nested():
                order_ids = await apply(session, orders(), run)
        except UserError as error:
            if len(run) == 1:
                _refuse(handled[run[0].message.message_id], error.problems)
                return
            refused = _refused_indexes(error, len(run))
            if refused is None:  # not attributable to one payload: each on its own
                for item in run:
                    await _apply_alone(session, orders, item, handled, isolate)
                return
            for index in refused:
                _refuse(handled[run[index].message.message_id], [p for p in error.problems if p.field[:1] == (index,)])
            run = [item for index, item in enumerate(run) if index not in refused]
            continue
        except Exception as exc:
            if not isolate:
                raise
            if len(run) == 1:
                _fail(handled[run[0].message.message_id], exc)
                return
            for item in run:
                await _apply_alone(session, orders, item, handled, isolate)
            return
        for item, order_id in zip(run, order_ids, strict=True):
            result = handled[item.message.message_id]
            result.outcome, result.order_id = Outcome.APPLIED, order_id
        return


async def _apply_alone(
    session: AsyncSession,
    orders: Callable[[], OrderService],
    item: Prepared,
    handled: dict[int, Handled],
    isolate: bool,
) -> None:
    result = handled[item.message.message_id]
    try:
        async with session.begin_nested():
            [order_id] = await apply(session, orders(), [item])
    except UserError as error:
        _refuse(result, error.problems)
        return
    except Exception as exc:
        if not isolate:
            raise
        _fail(result, exc)
        return
    result.outcome, result.order_id = Outcome.APPLIED, order_id


def _fail(handled: Handled, exc: Exception) -> None:
    handled.outcome, handled.error = Outcome.FAILED, error_text(f"{type(exc).__name__}: {exc}")
    handled.order_id = handled.rule_version = handled.canonical = None


def _handled(prepared: Prepared) -> Handled:
    handled = Handled(prepared.message.message_id, Outcome.PENDING, prepared.summary())
    if prepared.refusal is not None:
        _refuse(handled, prepared.refusal.problems)
    else:
        handled.rule_version, handled.canonical = prepared.rule_version, prepared.canonical
    return handled


def _refuse(handled: Handled, problems: Sequence[Problem]) -> None:
    handled.problems = relocate(problems)
    handled.outcome, handled.error = Outcome.REJECTED, None  # worded by the handler's `describe`
    handled.order_id = handled.rule_version = handled.canonical = None


def _refused_indexes(error: UserError, size: int) -> set[int] | None:
    """The batch indexes a refusal names, or None when some problem names none."""
    indexes: set[int] = set()
    for problem in error.problems:
        first = problem.field[0] if problem.field else None
        if not isinstance(first, int) or not 0 <= first < size:
            return None
        indexes.add(first)
    return indexes or None


def _distinct_runs(prepared: list[Prepared]) -> list[list[Prepared]]:
    """Consecutive runs without a repeated order: two snapshots of one order apply in arrival order."""
    runs: list[list[Prepared]] = []
    seen: set[tuple[str, str]] = set()
    for item in prepared:
        assert item.canonical is not None
        key = (item.canonical.channel, item.canonical.channel_order_id)
        if not runs or key in seen:
            runs.append([])
            seen = set()
        runs[-1].append(item)
        seen.add(key)
    return runs
