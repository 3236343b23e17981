"""The drift watch for every upstream the merchant does not control, keyed by upstream kind and source.

Channel order payloads were first (`domain/pipeline/channel.py` watches them in batches, with their
adapters' enum fields). Payment notifications (per provider), warehouse and carrier events (per source)
and statement files (per format) go through the same baseline, the same field-level findings and the
same batched alerts: one learned shape per (source, kind), one alert row per distinct difference.

Their cleaning rules (the channels' ops, versioned per source and kind) are applied to what is watched
before it is compared: a rule that renames a provider's new field to its old name answers its alert.
They change what the watch sees, not what the provider parsers read (those read the provider's wire
format as documented); a statement format's `rename` rules on `columns.<name>` are read by the
statement parsers too (`domain/reconcile/layouts.py`). Replay runs recorded payment notifications
through today's rules and baseline, without counting anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels import drift
from domain.channels.cleaning import clean, parse_rules
from domain.channels.errors import IntakeErrorCode
from domain.channels.models import CleaningRuleSet, SchemaBaseline
from domain.channels.service import count_alerts, load_baseline, rules_in_force
from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.i18n import msg
from domain.intake.models import InboundMessage
from domain.intake.vault import Vault
from domain.sql import dialect, insert_ignore


class UpstreamKind(StrEnum):
    CHANNEL = "CHANNEL"
    PAYMENT = "PAYMENT"
    WAREHOUSE = "WAREHOUSE"
    CARRIER = "CARRIER"
    STATEMENT = "STATEMENT"


KIND = {
    UpstreamKind.PAYMENT: "payment-notification",
    UpstreamKind.WAREHOUSE: "warehouse-event",
    UpstreamKind.CARRIER: "carrier-event",
    UpstreamKind.STATEMENT: "statement-layout",
}
"""The `kind` column of baselines and alerts for the upstreams that have no adapter kind of their own."""

LEARN_LIMIT = 1000
"""Samples after which an unpinned baseline stops learning: more of the same teaches nothing, and learning
locks the baseline row, which would serialise a provider's notifications until someone pins it."""

UPSTREAM_OF_KIND = {kind: upstream for upstream, kind in KIND.items()}

ENUM_PATHS = {
    UpstreamKind.PAYMENT: frozenset(
        {"trade_status", "notify_type", "event_type", "resource_type", "trade_state", "refund_status", "status"}
    ),
    UpstreamKind.WAREHOUSE: frozenset({"kind", "details.scan_type", "customer_grade", "zone"}),
    UpstreamKind.CARRIER: frozenset({"kind", "details.action"}),
    UpstreamKind.STATEMENT: frozenset({"encoding", "delimiter"}),
}
"""Fields whose values are a closed set: a value never seen there is news (a new trade status, a new
scan code); elsewhere only new, missing and retyped fields are."""


def upstream_of(kind: str) -> UpstreamKind:
    return UPSTREAM_OF_KIND.get(kind, UpstreamKind.CHANNEL)


def notification_fields(body: bytes) -> dict[str, Any]:
    """A payment notification as fields: a JSON object as it is, a form body as its keys (Alipay sends
    `a=1&b=2`). Anything else has no fields to watch; the parser refuses it with its own reason."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            return {}
    return payload if isinstance(payload, dict) else {}


def evidence_fields(evidence: Any) -> tuple[UpstreamKind, str, dict[str, Any]]:
    """A warehouse or carrier event as the fields its source sent, keyed by the warehouse or carrier:
    the source is what changes its software, not the kind of event. Empty values are absent, so a field
    a source stops sending is missed."""
    carrier = evidence.carrier_code is not None and evidence.warehouse_code is None
    upstream = UpstreamKind.CARRIER if carrier else UpstreamKind.WAREHOUSE
    source = (evidence.carrier_code if carrier else evidence.warehouse_code) or "unknown"
    fields: dict[str, Any] = {
        "kind": str(evidence.kind),
        "zone": evidence.zone,
        "station": evidence.station,
        "operator": evidence.operator,
        "tracking_number": evidence.tracking_number,
        "customer_id": evidence.customer_id,
        "customer_grade": evidence.customer_grade,
        "details": {k: _plain(v) for k, v in evidence.details.items() if v not in (None, "")},
    }
    payload = {k: _plain(v) for k, v in fields.items() if v not in (None, "", {})}
    return upstream, f"{upstream.value.lower()}:{source}", payload


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | dict | list) else str(value)


async def observe(
    session: AsyncSession,
    upstream: UpstreamKind,
    source: str,
    payloads: Sequence[Any],
    at: datetime | None = None,
    enums: frozenset[str] | None = None,
) -> list[list[drift.Finding]]:
    """Each payload compared with the source's pinned baseline and every difference counted; while the
    baseline is not pinned the payloads teach it instead. One statement per distinct alert per call.
    `enums` replaces the kind's enum fields (a statement's columns are its own)."""
    kind = KIND[upstream]
    source = source[:40]
    baseline = await load_baseline(session, source, kind)
    enums = ENUM_PATHS[upstream] if enums is None else enums
    _, rules = await rules_in_force(session, source, kind)
    payloads = [clean(rules, payload) for payload in payloads]
    if baseline is None or baseline.pinned_at is None:
        if baseline is None or baseline.samples < LEARN_LIMIT:
            await learn(session, upstream, source, payloads, enums)
        return [[] for _ in payloads]
    found = [drift.compare(baseline.shape, payload, enums) for payload in payloads]
    flat = [(source, kind, finding) for findings in found for finding in findings]
    if flat:
        await count_alerts(session, flat, at or utcnow(), upstream=upstream.value)
    return found


async def learn(
    session: AsyncSession, upstream: UpstreamKind, source: str, payloads: Sequence[Any], enums: frozenset[str]
) -> None:
    """The channel's learning (`learn_many`) for any upstream: the row is locked so no sample is lost."""
    kind = KIND[upstream]
    empty = {"fields": {}, "samples": 0}
    values = {"channel": source, "kind": kind, "upstream": upstream.value, "shape": empty, "samples": 0,
              "updated_at": utcnow()}  # fmt: skip
    await insert_ignore(session, SchemaBaseline, values, ("channel", "kind"))
    query = select(SchemaBaseline).where(SchemaBaseline.channel == source, SchemaBaseline.kind == kind)
    if dialect(session) == "postgresql":
        query = query.with_for_update()
    baseline = (await session.exec(query.execution_options(populate_existing=True))).one()
    if baseline.pinned_at is not None:
        return
    shape = baseline.shape
    for payload in payloads:
        shape = drift.learn(shape, payload, enums)
    await session.exec(
        update(SchemaBaseline)
        .where(col(SchemaBaseline.id) == baseline.id)
        .values(shape=shape, samples=shape["samples"], updated_at=utcnow())
    )


async def pin(
    session: AsyncSession, upstream: UpstreamKind, source: str, staff: str, *, shape: dict[str, Any] | None = None
) -> SchemaBaseline:
    """Pin what was learned, or `shape` when given (a layout staff accept as the new normal)."""
    kind = KIND[upstream]
    source = source[:40]
    baseline = await load_baseline(session, source, kind)
    if baseline is None:
        if shape is None:
            message = msg(
                "nothing received from {upstream} source {source} yet: nothing to pin",
                upstream=upstream.value.lower(),
                source=repr(source),
            )
            raise UserError.one(("source",), message, IntakeErrorCode.NO_BASELINE)
        baseline = SchemaBaseline(channel=source, kind=kind, upstream=upstream.value, shape=shape, updated_at=utcnow())
    if shape is not None:
        baseline.shape, baseline.samples = shape, int(shape.get("samples", 0))
    baseline.pinned_at, baseline.pinned_by, baseline.updated_at = utcnow(), staff[:200], utcnow()
    session.add(baseline)
    await session.flush()
    return baseline


async def save_rules(
    session: AsyncSession, upstream: UpstreamKind, source: str, raw_rules: Any, note: str, by: str
) -> CleaningRuleSet:
    """A new version of a source's watch rules; the highest is in force."""
    problems = Problems()
    if upstream is UpstreamKind.CHANNEL:
        problems.add(
            ("upstream",), msg("a channel's rules are saved with saveCleaningRules"), IntakeErrorCode.INVALID_RULE
        )
    rules = parse_rules(raw_rules, problems)
    problems.raise_if_any()
    kind, source = KIND[upstream], source[:40]
    latest = (
        await session.exec(
            select(func.max(CleaningRuleSet.version)).where(
                CleaningRuleSet.channel == source, CleaningRuleSet.kind == kind
            )
        )
    ).one()
    row = CleaningRuleSet(
        channel=source, kind=kind, version=int(latest or 0) + 1, rules=[r.as_json() for r in rules],
        note=note[:500], created_by=by[:200], created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Replayed:
    message_id: int
    received_at: datetime
    findings: list[drift.Finding]


async def replay_notifications(
    session: AsyncSession,
    vault: Vault,
    provider: str,
    start: datetime | None,
    end: datetime | None,
    limit: int = 1000,
) -> list[Replayed]:
    """Recorded notifications of a provider through today's rules and pinned baseline: which of them show
    which difference (a field added since when, say). A dry run: nothing is counted or learned."""
    baseline = await load_baseline(session, provider[:40], KIND[UpstreamKind.PAYMENT])
    if baseline is None or baseline.pinned_at is None:
        reason = msg("no pinned baseline for payment provider {provider}: pin it first", provider=repr(provider))
        raise UserError.one(("source",), reason, IntakeErrorCode.NO_BASELINE)
    _, rules = await rules_in_force(session, baseline.channel, baseline.kind)
    query = (
        select(InboundMessage)
        .where(InboundMessage.source == f"payments:{provider}", InboundMessage.kind == KIND[UpstreamKind.PAYMENT])
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    if start is not None:
        query = query.where(col(InboundMessage.received_at) >= start)
    if end is not None:
        query = query.where(col(InboundMessage.received_at) < end)
    replayed = []
    for message in (await session.exec(query)).all():
        assert message.id is not None
        fields = clean(rules, notification_fields(vault.open(message.body)))
        found = drift.compare(baseline.shape, fields, ENUM_PATHS[UpstreamKind.PAYMENT])
        replayed.append(Replayed(message.id, message.received_at, found))
    return replayed
