"""Importing statements once, running reconciliations, and resolving what they found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.columns import check_note
from domain.errors import Problem, UserError
from domain.i18n import msg
from domain.ledger.errors import MoneyErrorCode
from domain.ledger.service import reverse_voucher
from domain.outbox.service import Outbox
from domain.reconcile.matching import COUNT_ITEMS, COUNT_LINES, INSERT_ITEMS, LINK_ORDERS, TUNE_POSTGRESQL
from domain.reconcile.models import Drift, ReconItem, ReconRun, Resolution, Statement, StatementLine
from domain.reconcile.statements import alipay, bank, wechatpay
from domain.reconcile.statements.lines import ParsedStatement
from domain.sql import dialect, insert_ignore

LINE_COLUMNS = ("statement_id", "line_no", "provider_txn_id", "kind", "order_ref", "amount", "currency", "occurred_at")

RECONCILIATION_TOPIC = "reconciliation"
"""Finished reconciliation runs, published after commit (partner webhooks read them)."""


def parse_statement(
    filename: str, data: bytes, *, bank_columns: bank.BankColumns | None = None, provider: str = "bank",
    tz: ZoneInfo | None = None,
) -> ParsedStatement:  # fmt: skip
    """The format is recognised from the content, not the name: files get renamed on the way to finance."""
    head = data[:400]
    if wechatpay.looks_like(head.decode("utf-8", "ignore")):
        return wechatpay.parse(filename, data)
    if alipay.looks_like(data):
        return alipay.parse(filename, data)
    return bank.parse(filename, data, bank_columns or bank.BankColumns(), provider=provider, tz=tz)


@dataclass(frozen=True)
class Imported:
    statement_id: int
    is_new: bool
    lines: int


async def import_statement(
    session: AsyncSession, filename: str, data: bytes, parsed: ParsedStatement, uploaded_by: str
) -> Imported:
    """The same bytes twice are one statement: the content hash is unique and the lines are written once."""
    values: dict[str, Any] = {
        "provider": parsed.provider,
        "format": parsed.fmt,
        "filename": filename[:300],
        "content_hash": hashlib.sha256(data).hexdigest(),
        "period_start": parsed.period_start,
        "period_end": parsed.period_end,
        "line_count": len(parsed.lines),
        "uploaded_by": uploaded_by,
        "received_at": utcnow(),
        "run_id": None,
    }
    new_id = await insert_ignore(session, Statement, values, ("content_hash",))
    if new_id is None:
        existing = (await session.exec(select(Statement).where(Statement.content_hash == values["content_hash"]))).one()
        assert existing.id is not None
        return Imported(existing.id, False, existing.line_count)
    rows = [
        (new_id, line.line_no, line.provider_txn_id, line.kind.value, line.order_ref, line.amount, line.currency,
         line.occurred_at)
        for line in parsed.lines
    ]  # fmt: skip
    await write_lines(session, rows)
    return Imported(new_id, True, len(rows))


async def write_lines(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL (a million lines in about a second); a plain bulk insert elsewhere."""
    if dialect(session) == "postgresql":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("statement_line", records=rows, columns=list(LINE_COLUMNS))
        return
    if rows:
        await session.execute(insert(StatementLine), [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows])


async def unreconciled(session: AsyncSession) -> list[Statement]:
    return list((await session.exec(select(Statement).where(col(Statement.run_id).is_(None)))).all())


async def reconcile(
    session: AsyncSession, statement_ids: list[int], *, trigger: str, outbox: Outbox | None = None
) -> list[ReconRun]:
    """One run per provider: statements of one provider are reconciled together over their combined period.
    Each finished run is published on `outbox` (partner webhooks read it); None publishes nothing."""
    statements = list((await session.exec(select(Statement).where(col(Statement.id).in_(statement_ids)))).all())
    by_provider: dict[str, list[Statement]] = {}
    for statement in statements:
        by_provider.setdefault(statement.provider, []).append(statement)
    runs = [await _run(session, provider, group, trigger) for provider, group in sorted(by_provider.items())]
    if outbox is not None:
        for run in runs:
            outbox.publish(RECONCILIATION_TOPIC, finished(run))
        await outbox.flush(session)
    return runs


def finished(run: ReconRun) -> dict[str, Any]:
    return {
        "run_id": run.id, "provider": run.provider, "statement_lines": run.statement_lines,
        "matched": run.matched, "counts": run.counts,
    }  # fmt: skip


async def _run(session: AsyncSession, provider: str, statements: list[Statement], trigger: str) -> ReconRun:
    run = await open_run(session, provider, statements, trigger)
    if dialect(session) == "postgresql":
        for setting in TUNE_POSTGRESQL:
            await session.execute(text(setting))
    await session.execute(
        INSERT_ITEMS, params={"run": run.id, "provider": provider, "start": run.period_start, "end": run.period_end}
    )
    await session.execute(LINK_ORDERS, params={"run": run.id})
    counts = {str(drift): int(n) for drift, n in (await session.execute(COUNT_ITEMS, params={"run": run.id})).all()}
    lines = int((await session.execute(COUNT_LINES, params={"run": run.id})).one()[0])
    return await close_run(session, run, lines, counts)


class AlreadyReconciling(UserError):
    """One run per statement: of two callers at once (a click during the daily job), the second is refused."""

    def __init__(self, statement_ids: list[int | None]) -> None:
        listed = ", ".join(str(i) for i in statement_ids)
        super().__init__(
            [Problem(("statement_ids",), msg("statement(s) {listed} already reconciled or being reconciled",
                                             listed=listed), MoneyErrorCode.ALREADY_RECONCILING)]
        )  # fmt: skip


async def open_run(session: AsyncSession, provider: str, statements: list[Statement], trigger: str) -> ReconRun:
    """The run row, over the statements' combined period, and the statements claimed as its own.

    The claim is a guarded update (`run_id IS NULL`): on PostgreSQL a concurrent claimer waits for the row lock
    and then finds the statement taken; on SQLite the write lock taken at BEGIN serializes the two outright."""
    start = min(s.period_start for s in statements)
    end = max(s.period_end for s in statements)
    run = ReconRun(
        provider=provider, period_start=start, period_end=end, statement_lines=0, vouchers=0, matched=0,
        counts={}, started_at=utcnow(), trigger=trigger,
    )  # fmt: skip
    session.add(run)
    await session.flush()
    assert run.id is not None
    ids = [s.id for s in statements]
    claimed = await session.exec(
        update(Statement).where(col(Statement.id).in_(ids), col(Statement.run_id).is_(None)).values(run_id=run.id)
    )
    if claimed.rowcount != len(ids):
        raise AlreadyReconciling(ids)
    return run


async def close_run(session: AsyncSession, run: ReconRun, lines: int, counts: dict[str, int]) -> ReconRun:
    """The run's figures, from its line count and the count of each drift among its stored items."""
    unmatched_lines = sum(
        counts.get(d, 0)
        for d in (Drift.MISSING_IN_SYSTEM, Drift.DUPLICATE_IN_STATEMENT, Drift.AMOUNT_MISMATCH,
                  Drift.CURRENCY_MISMATCH, Drift.STATUS_MISMATCH)
    )  # fmt: skip
    run.statement_lines = lines
    run.matched = lines - unmatched_lines
    run.vouchers = lines - counts.get(Drift.MISSING_IN_SYSTEM, 0) - counts.get(Drift.DUPLICATE_IN_STATEMENT, 0)
    run.vouchers += counts.get(Drift.MISSING_IN_STATEMENT, 0) + counts.get(Drift.DUPLICATE_NOTIFICATION, 0)
    run.counts = counts
    session.add(run)
    await session.flush()
    return run


def match_rate(run: ReconRun) -> float:
    return run.matched / run.statement_lines if run.statement_lines else 1.0


async def resolve_item(
    session: AsyncSession, item_id: int, resolution: Resolution, *, actor: str, note: str
) -> ReconItem:
    """Reversal undoes the voucher the item names (a duplicate notification, say); anything else is explained."""
    item = await session.get(ReconItem, item_id, populate_existing=True)
    if item is None:
        raise UserError.one(("item_id",), msg("no to-check item {item_id}", item_id=item_id), MoneyErrorCode.NOT_FOUND)
    if item.resolution is not None:
        raise UserError.one(
            ("item_id",),
            msg("already resolved ({resolution})", resolution=item.resolution),
            MoneyErrorCode.ALREADY_RESOLVED,
        )
    if not note.strip():
        raise UserError.one(("note",), msg("say why"), MoneyErrorCode.NOTE_REQUIRED)
    check_note("note", note)
    if resolution == Resolution.REVERSED:
        if item.voucher_id is None:
            raise UserError.one(
                ("resolution",), msg("no voucher of ours to reverse"), MoneyErrorCode.NOTHING_TO_REVERSE
            )
        await reverse_voucher(session, item.voucher_id, actor=actor, reason=note)
    done = await session.exec(
        update(ReconItem)
        .where(col(ReconItem.id) == item_id, col(ReconItem.resolution).is_(None))
        .values(resolution=resolution.value, resolved_by=actor, note=note, resolved_at=utcnow())
    )
    if done.rowcount != 1:
        raise UserError.one(("item_id",), msg("resolved meanwhile by someone else"), MoneyErrorCode.ALREADY_RESOLVED)
    await session.refresh(item)
    return item


async def runs(session: AsyncSession, before_id: int | None, limit: int) -> list[ReconRun]:
    """Newest first: finance looks at the last run, then back; a run still open has no figures yet but is listed."""
    statement = select(ReconRun).order_by(col(ReconRun.id).desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(col(ReconRun.id) < before_id)
    return list((await session.exec(statement)).all())


async def items_of(session: AsyncSession, run_id: int, after_id: int | None, limit: int) -> list[ReconItem]:
    statement = select(ReconItem).where(ReconItem.run_id == run_id).order_by(col(ReconItem.id)).limit(limit)
    if after_id is not None:
        statement = statement.where(col(ReconItem.id) > after_id)
    return list((await session.exec(statement)).all())
