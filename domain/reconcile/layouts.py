"""Statement layouts under the drift watch: a file whose layout changed is held, not reconciled wrongly.

A format's files teach its layout until staff pin it, as a channel's payloads teach its schema. Once
pinned, every file is compared with it: a renamed column, another encoding, delimiter,
date or amount format raises the usual drift alerts (upstream STATEMENT, source the format) and holds
the file with the reason in words. Staff accept the new layout, with column renames when the bank only
renamed what the parser reads, and the held file is then imported; its reconciliation runs as any other.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels import drift
from domain.channels.models import CleaningRuleSet
from domain.channels.service import count_alerts, load_baseline
from domain.channels.upstream import KIND, UpstreamKind, observe, pin
from domain.clock import utcnow
from domain.errors import UserError
from domain.i18n import Message, msg
from domain.i18n.stored import joined, render_sentence, stored_sentences
from domain.intake.vault import Vault
from domain.ledger.errors import MoneyErrorCode
from domain.reconcile.models import HeldStatement
from domain.reconcile.service import Imported, import_statement, parse_statement
from domain.reconcile.statements import alipay, bank, wechatpay
from domain.reconcile.statements.layout import Layout, UnknownEncoding, read_layout, rename_columns
from domain.sql import insert_ignore

STATEMENT = UpstreamKind.STATEMENT


@dataclass(frozen=True)
class Held:
    held_id: int
    source: str
    reason: Message
    findings: list[drift.Finding]


def source_of(data: bytes, provider: str) -> str:
    """The format a file is watched under: the providers' own bills by format, a bank's CSV per bank."""
    if wechatpay.looks_like(data[:400].decode("utf-8", "ignore")):
        return "wechatpay-trade-bill"
    if alipay.looks_like(data):
        return "alipay-trade-detail"
    return f"bank-csv:{provider}"[:40]


def _enums(layout: dict[str, Any]) -> frozenset[str]:
    """Encoding, delimiter and each column's format are closed sets: another value is a changed layout."""
    return frozenset({"encoding", "delimiter", *(f"columns.{name}" for name in layout.get("columns", {}))})


def _shape(payload: dict[str, Any]) -> dict[str, Any]:
    return drift.learn({"fields": {}, "samples": 0}, payload, _enums(payload))


def explain(findings: list[drift.Finding]) -> Message:
    """The hold's reason as finance reads it."""
    words = []
    for f in findings:
        name = repr(f.path.removeprefix("columns."))
        if f.change is drift.Change.NEW_FIELD:
            words.append(msg("new column {name}", name=name))
        elif f.change is drift.Change.MISSING_FIELD:
            words.append(msg("column {name} is gone", name=name))
        elif f.path.startswith("columns."):
            words.append(msg("column {name} now reads as {detail}", name=name, detail=f.detail))
        else:
            words.append(msg("{setting} is now {detail}", setting=f.path, detail=repr(f.detail)))
    return msg("layout changed: {changes}", changes=joined(words) or "")


def reason_of(row: HeldStatement) -> str:
    """Why the file is held, in the reader's language; as written for a file held before."""
    return render_sentence(row.sentences, "reason", row.reason)


async def renames_in_force(session: AsyncSession, source: str) -> dict[str, str]:
    row = (
        await session.exec(
            select(CleaningRuleSet)
            .where(CleaningRuleSet.channel == source, CleaningRuleSet.kind == KIND[STATEMENT])
            .order_by(col(CleaningRuleSet.version).desc())
            .limit(1)
        )
    ).first()
    rules = row.rules if row else []
    return {str(r["path"]).removeprefix("columns."): str(r["to"]) for r in rules if r.get("op") == "rename"}


async def take_statement(
    session: AsyncSession,
    filename: str,
    data: bytes,
    *,
    provider: str,
    uploaded_by: str,
    vault: Vault,
    bank_columns: bank.BankColumns | None = None,
    tz: ZoneInfo | None = None,
) -> Imported | Held:
    """Import the file, or hold it (sealed by `vault`: a statement may name buyers) when its layout is not its
    format's. Raises StatementError as the parser does for a file that is wrong in itself (a bad amount)."""
    source = source_of(data, provider)
    try:
        layout = read_layout(data)
    except UnknownEncoding as exc:
        finding = drift.Finding("encoding", drift.Change.NEW_VALUE, "unknown", "(unreadable)")
        await count_alerts(session, [(source, KIND[STATEMENT], finding)], utcnow(), upstream=STATEMENT.value)
        where = Where(source, provider, filename, uploaded_by)
        reason = msg("unknown encoding: {problem}", problem=str(exc))
        return await _hold(session, vault, where, data, reason, [finding])
    findings = await _compare(session, source, layout)
    if findings:
        where = Where(source, provider, filename, uploaded_by)
        return await _hold(session, vault, where, data, explain(findings), findings)
    readable = rename_columns(data, await renames_in_force(session, source))
    parsed = parse_statement(filename, readable, bank_columns=bank_columns, provider=provider, tz=tz)
    return await import_statement(session, filename, data, parsed, uploaded_by)


async def _compare(session: AsyncSession, source: str, layout: Layout) -> list[drift.Finding]:
    """Until staff pin a format's layout, its files teach it (as a channel's payloads do)."""
    payload = layout.as_payload()
    baseline = await load_baseline(session, source, KIND[STATEMENT])
    enums = _enums(payload) | (_pinned_enums(baseline.shape) if baseline is not None else frozenset())
    [findings] = await observe(session, STATEMENT, source, [payload], enums=enums)
    return findings


def _pinned_enums(shape: dict[str, Any]) -> frozenset[str]:
    columns = [p.removeprefix("columns.") for p in shape.get("fields", {}) if p.startswith("columns.")]
    return _enums({"columns": dict.fromkeys(columns)})


@dataclass(frozen=True)
class Where:
    """Where a held file came from."""

    source: str
    provider: str
    filename: str
    by: str


async def _hold(
    session: AsyncSession, vault: Vault, where: Where, data: bytes, reason: Message, findings: list[drift.Finding]
) -> Held:
    """Kept sealed, once per content (the hash is of the file, not of its sealed form)."""
    digest = hashlib.sha256(data).hexdigest()
    values = {"source": where.source, "provider": where.provider[:40], "filename": where.filename[:300],
              "content_hash": digest, "data": vault.seal(data), "reason": str(reason),
              "sentences": stored_sentences(reason=reason), "held_by": where.by[:200], "held_at": utcnow()}  # fmt: skip
    held_id = await insert_ignore(session, HeldStatement, values, ("content_hash",))
    if held_id is None:
        held_id = (await session.exec(select(HeldStatement.id).where(HeldStatement.content_hash == digest))).one()
    assert held_id is not None
    return Held(held_id, where.source, reason, findings)


async def held_statements(session: AsyncSession, *, include_released: bool = False) -> list[HeldStatement]:
    query = select(HeldStatement).order_by(col(HeldStatement.id))
    if not include_released:
        query = query.where(col(HeldStatement.released_at).is_(None))
    return list((await session.exec(query)).all())


async def accept_layout(
    session: AsyncSession, vault: Vault, held_id: int, staff: str, renames: dict[str, str] | None = None
) -> Imported:
    """The held file's layout becomes its format's baseline (with `renames`, old header name -> the name the
    parser reads, saved as the format's column rules), and the file is imported."""
    held = await session.get(HeldStatement, held_id)
    if held is None or held.released_at is not None:
        raise UserError.one(("heldStatementId",), msg("no statement is held under this id"), MoneyErrorCode.NOT_FOUND)
    data = vault.open(held.data)
    try:
        layout = read_layout(data)
    except UnknownEncoding as exc:
        message = msg(
            "cannot accept a layout that cannot be read ({reason}): export the file as UTF-8 or GBK", reason=exc
        )
        raise UserError.one(("heldStatementId",), message, MoneyErrorCode.UNKNOWN_ENCODING) from exc
    if renames:
        await _save_renames(session, held.source, renames, staff)
    in_force = await renames_in_force(session, held.source)
    await pin(session, STATEMENT, held.source, staff, shape=_shape(layout.renamed(in_force).as_payload()))
    readable = rename_columns(data, await renames_in_force(session, held.source))
    parsed = parse_statement(held.filename, readable, provider=held.provider)
    imported = await import_statement(session, held.filename, data, parsed, staff)
    held.released_at, held.released_by, held.statement_id = utcnow(), staff[:200], imported.statement_id
    session.add(held)
    await session.flush()
    return imported


async def _save_renames(session: AsyncSession, source: str, renames: dict[str, str], staff: str) -> None:
    latest = (
        await session.exec(
            select(func.max(CleaningRuleSet.version)).where(
                CleaningRuleSet.channel == source, CleaningRuleSet.kind == KIND[STATEMENT]
            )
        )
    ).one()
    merged = await renames_in_force(session, source) | renames
    rules = [{"op": "rename", "path": f"columns.{old}", "to": new} for old, new in sorted(merged.items())]
    session.add(
        CleaningRuleSet(
            channel=source, kind=KIND[STATEMENT], version=int(latest or 0) + 1, rules=rules,
            note="column renames accepted with a held statement", created_by=staff[:200], created_at=utcnow(),
        )
    )  # fmt: skip
    await session.flush()


async def import_folder(
    session: AsyncSession, vault: Vault, folder: Path, *, uploaded_by: str = "folder"
) -> list[Imported | Held]:
    """Every file dropped in the folder, each imported (or held) once however often the folder is scanned."""
    return [
        await take_statement(session, name, data, provider="bank", uploaded_by=uploaded_by, vault=vault)
        for name, data in await asyncio.to_thread(_read_folder, folder)
    ]


def _read_folder(folder: Path) -> list[tuple[str, bytes]]:
    paths = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [(p.name, p.read_bytes()) for p in paths]
