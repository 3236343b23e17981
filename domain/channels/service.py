"""The stages of channel intake: record, decode, watch for drift, clean, normalize; and the rules and
schemas staff keep. The handler that runs them on a recorded payload is `domain/pipeline/channel.py`.

Each stage's failure is answered with a field path, and the raw payload is recorded before any
stage runs, so a refused payload can be read, fixed by a rule and replayed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels import drift
from domain.channels.adapter import Adapter, normalize
from domain.channels.cleaning import Rule, clean, parse_rules
from domain.channels.errors import IntakeErrorCode
from domain.channels.models import CleaningRuleSet, DriftAlert, SchemaBaseline
from domain.channels.registry import adapter_for
from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.i18n import msg
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.intake.vault import Vault
from domain.orders.channels import parse_channel
from domain.orders.commands import CanonicalOrder
from domain.pipeline.record import Arrival, Recorded, record, record_all
from domain.sql import dialect, insert_ignore

MAX_PAYLOAD_BYTES = 256 * 1024
UNKNOWN = "UNKNOWN"
RULE_SAMPLES = 20


def source_and_kind(channel_name: str) -> tuple[str, str]:
    channel = parse_channel(channel_name)
    adapter = adapter_for(channel_name)
    if channel is None or adapter is None:
        return UNKNOWN, "unknown"
    return channel.value, adapter.kind


def arrival(
    channel_name: str, body: bytes, *, partner_key_id: int | None = None, received_at: datetime | None = None
) -> Arrival:
    """A payload as the record stage stores it: its SHA-256 is its natural key, so a repeat of the same bytes
    is counted on the first record rather than stored twice."""
    source, kind = source_and_kind(channel_name)
    return Arrival(
        source=source,
        kind=kind,
        body=body[:MAX_PAYLOAD_BYTES],
        size=len(body),
        headers={},
        signature=SignatureVerdict.VALID if partner_key_id else SignatureVerdict.NOT_APPLICABLE,
        natural_key=hashlib.sha256(body).hexdigest(),
        partner_key_id=partner_key_id,
        received_at=received_at,
    )


async def record_payload(
    sessions: Callable[[], AsyncSession],
    vault: Vault,
    channel_name: str,
    body: bytes,
    *,
    partner_key_id: int | None = None,
    received_at: datetime | None = None,
) -> Recorded:
    """The record stage for a payload, committed alone. A payload over the limit is kept cut, REJECTED at once."""
    payload = arrival(channel_name, body, partner_key_id=partner_key_id, received_at=received_at)
    return await record(sessions, vault, payload, max_body_bytes=MAX_PAYLOAD_BYTES)


async def record_payloads(
    sessions: Callable[[], AsyncSession], vault: Vault, channel_name: str, bodies: Sequence[bytes]
) -> list[Recorded]:
    """A batch of one channel's payloads recorded under one commit, each as `record_payload` records it."""
    arrivals = [arrival(channel_name, body) for body in bodies]
    return await record_all(sessions, vault, arrivals, max_body_bytes=MAX_PAYLOAD_BYTES)


def decode(channel_name: str, body: bytes) -> tuple[Adapter, dict[str, Any]]:
    adapter = adapter_for(channel_name)
    if adapter is None:
        raise UserError.one(
            ("channel",),
            msg("no adapter for channel {channel_name}", channel_name=repr(channel_name)),
            IntakeErrorCode.UNKNOWN_CHANNEL,
        )
    if len(body) > MAX_PAYLOAD_BYTES:
        raise UserError.one(
            ("payload",),
            msg(
                "payload of {size} bytes exceeds the limit of {max_payload_bytes}",
                size=len(body),
                max_payload_bytes=MAX_PAYLOAD_BYTES,
            ),
            IntakeErrorCode.TOO_LARGE,
        )
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as exc:
        raise UserError.one(
            ("payload",), msg("payload is not UTF-8: {exc}", exc=exc), IntakeErrorCode.NOT_JSON
        ) from exc
    except json.JSONDecodeError as exc:
        message = msg(
            "not JSON: line {line} column {column}: {reason}", line=exc.lineno, column=exc.colno, reason=exc.msg
        )
        raise UserError.one(("payload",), message, IntakeErrorCode.NOT_JSON) from exc
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        raise UserError.one(
            ("payload",), msg("JSON not accepted: {reason}", reason=str(exc).split(";")[0]), IntakeErrorCode.NOT_JSON
        ) from exc
    except RecursionError as exc:
        raise UserError.one(("payload",), msg("JSON nested too deeply"), IntakeErrorCode.NOT_JSON) from exc
    if not isinstance(payload, dict):
        raise UserError.one(
            ("payload",),
            msg("expected a JSON object, got {drift}", drift=drift.json_type(payload)),
            IntakeErrorCode.WRONG_SHAPE,
        )
    return adapter, payload


async def rules_in_force(session: AsyncSession, channel: str, kind: str) -> tuple[int, list[Rule]]:
    row = (
        await session.exec(
            select(CleaningRuleSet)
            .where(CleaningRuleSet.channel == channel, CleaningRuleSet.kind == kind)
            .order_by(col(CleaningRuleSet.version).desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return 0, []
    problems = Problems()
    rules = parse_rules(row.rules, problems)
    return row.version, rules


async def watch(
    session: AsyncSession, adapter: Adapter, channel: str, payload: Any, now: datetime | None = None
) -> list[drift.Finding]:
    """Compare with the pinned baseline and count each difference; unpinned baselines are still learning."""
    baseline = await load_baseline(session, channel, adapter.kind)
    if baseline is None or baseline.pinned_at is None:
        return []
    findings = drift.compare(baseline.shape, payload, adapter.enum_paths, adapter.known_values())
    await count_alerts(session, [(channel, adapter.kind, f) for f in findings], now or utcnow())
    return findings


async def count_alerts(
    session: AsyncSession, found: Sequence[tuple[str, str, drift.Finding]], at: datetime, upstream: str = "CHANNEL"
) -> None:
    """Each distinct alert counted once with every sighting: many payloads cost one statement per alert.

    Concurrent payloads may raise the same alert at once: the database decides which one inserts."""
    columns = ("channel", "kind", "path", "change", "detail")
    counted: dict[tuple[str, ...], dict[str, Any]] = {}
    for channel, kind, finding in found:
        values: dict[str, Any] = {
            "channel": channel,
            "kind": kind,
            "path": finding.path[:300],
            "change": finding.change.value,
            "detail": finding.detail[:200],
            "example": finding.example,
            "first_seen": at,
            "last_seen": at,
            "count": 0,
            "notified_count": 0,
            "upstream": upstream,
        }
        counted.setdefault(tuple(values[c] for c in columns), values)["count"] += 1
    for values in counted.values():
        if await insert_ignore(session, DriftAlert, values, columns) is not None:
            continue
        await session.exec(
            update(DriftAlert)
            .where(*(getattr(DriftAlert, c) == values[c] for c in columns))
            .values(count=DriftAlert.count + values["count"], last_seen=at)
        )


async def load_baseline(session: AsyncSession, channel: str, kind: str) -> SchemaBaseline | None:
    query = select(SchemaBaseline).where(SchemaBaseline.channel == channel, SchemaBaseline.kind == kind)
    return (await session.exec(query)).first()


async def learn_many(session: AsyncSession, adapter: Adapter, channel: str, payloads: Sequence[Any]) -> None:
    """Accepted payloads teach the baseline until staff pin it; the row is locked so no sample is lost."""
    baseline = await load_baseline(session, channel, adapter.kind)
    if baseline is not None and baseline.pinned_at is not None:
        return
    if baseline is None:
        empty = {"fields": {}, "samples": 0}
        values = {"channel": channel, "kind": adapter.kind, "shape": empty, "samples": 0, "updated_at": utcnow()}
        await insert_ignore(session, SchemaBaseline, values, ("channel", "kind"))
    query = select(SchemaBaseline).where(SchemaBaseline.channel == channel, SchemaBaseline.kind == adapter.kind)
    if dialect(session) == "postgresql":
        query = query.with_for_update()
    baseline = (await session.exec(query.execution_options(populate_existing=True))).one()
    if baseline.pinned_at is not None:
        return
    shape = baseline.shape
    for payload in payloads:
        shape = drift.learn(shape, payload, adapter.enum_paths)
    await session.exec(
        update(SchemaBaseline)
        .where(col(SchemaBaseline.id) == baseline.id)
        .values(shape=shape, samples=shape["samples"], updated_at=utcnow())
    )


async def pin_baseline(session: AsyncSession, channel_name: str, staff: str, *, pinned: bool = True) -> SchemaBaseline:
    channel, kind = source_and_kind(channel_name)
    if channel == UNKNOWN:
        raise UserError.one(
            ("channel",),
            msg("no adapter for channel {channel_name}", channel_name=repr(channel_name)),
            IntakeErrorCode.UNKNOWN_CHANNEL,
        )
    baseline = await load_baseline(session, channel, kind)
    if baseline is None:
        raise UserError.one(("channel",), msg("no accepted payload yet: nothing to pin"), IntakeErrorCode.NO_BASELINE)
    baseline.pinned_at = utcnow() if pinned else None
    baseline.pinned_by = staff if pinned else None
    session.add(baseline)
    await session.flush()
    return baseline


def canonical_json(order: CanonicalOrder) -> dict[str, Any]:
    """What replay compares: everything the order row keeps, without the buyer's phone."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "channel": order.channel,
        "channelOrderId": order.channel_order_id,
        "status": order.status.value,
        "rawStatus": order.raw_status,
        "currency": order.currency,
        "placedAt": iso(order.placed_at),
        "paidAt": iso(order.paid_at),
        "cancelledAt": iso(order.cancelled_at),
        "itemsAmount": order.items_amount,
        "shippingAmount": order.shipping_amount,
        "discountAmount": order.discount_amount,
        "totalAmount": order.total_amount,
        "warehouseCode": order.warehouse_code,
        "lines": [[x.sku, x.title, x.quantity, x.unit_price] for x in order.lines],
    }


async def accepted_samples(
    session: AsyncSession, vault: Vault, channel: str, kind: str, limit: int = RULE_SAMPLES
) -> list[tuple[int, Any]]:
    query = (
        select(InboundMessage)
        .where(
            InboundMessage.source == channel,
            InboundMessage.kind == kind,
            InboundMessage.outcome == Outcome.APPLIED,
        )
        .order_by(col(InboundMessage.id).desc())
        .limit(limit)
    )
    samples = []
    for message in (await session.exec(query)).all():
        assert message.id is not None
        samples.append((message.id, json.loads(vault.open(message.body))))
    return samples


async def save_rules(
    session: AsyncSession,
    vault: Vault,
    channel_name: str,
    raw_rules: Any,
    note: str,
    by: str,
) -> CleaningRuleSet:
    """A new version, refused unless every accepted sample still maps to a canonical order through it."""
    channel, kind = source_and_kind(channel_name)
    problems = Problems()
    if channel == UNKNOWN:
        problems.add(
            ("channel",),
            msg("no adapter for channel {channel_name}", channel_name=repr(channel_name)),
            IntakeErrorCode.UNKNOWN_CHANNEL,
        )
        problems.raise_if_any()
    rules = parse_rules(raw_rules, problems)
    problems.raise_if_any()
    adapter = adapter_for(channel)
    assert adapter is not None
    samples = await accepted_samples(session, vault, channel, kind)
    for message_id, sample in samples:
        try:
            normalize(adapter, clean(rules, sample))
        except UserError as error:
            problems.add(
                ("rules",),
                msg(
                    "breaks the canonical mapping of message {message_id}: {error}", message_id=message_id, error=error
                ),
                IntakeErrorCode.BREAKS_MAPPING,
            )
            break
    problems.raise_if_any()
    latest = (
        await session.exec(
            select(func.max(CleaningRuleSet.version)).where(
                CleaningRuleSet.channel == channel, CleaningRuleSet.kind == kind
            )
        )
    ).one()
    row = CleaningRuleSet(
        channel=channel,
        kind=kind,
        version=int(latest or 0) + 1,
        rules=[r.as_json() for r in rules],
        note=note[:500],
        created_by=by[:200],
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row
