"""Large bank CSVs on PostgreSQL: COPY the raw file into a staging table and normalize it in one statement.

Row-by-row parsing in Python costs several microseconds a line; a million-line statement would spend
seconds there alone. The server parses CSV an order of magnitude faster, and the checks the Python
parser makes (amount syntax, time syntax, currency) become set-based queries that still name the line
and column of the first offence.

Writing a million lines into `statement_line` (heap, primary key, WAL) is the slowest step and needs no
answer from the reconciliation, nor the reconciliation from it: `import_and_reconcile_bank_csv` runs the
two side by side on two connections, each reading the same bytes through the same expressions. Only the
session's connection writes; the other reads, and its temporary staging table dies with its transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.money import CURRENCY_EXPONENTS
from domain.reconcile.matching import TUNE_POSTGRESQL, classified_items
from domain.reconcile.models import ReconRun, Statement
from domain.reconcile.service import Imported, close_run, open_run
from domain.reconcile.statements.bank import BankColumns
from domain.reconcile.statements.lines import StatementError
from domain.sql import insert_ignore

_AMOUNT = r"^-?[0-9]+(\.[0-9]{1,2})?$"
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
TWO_DECIMAL_CURRENCIES = sorted(code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 2)


@dataclass(frozen=True)
class _Layout:
    """A file's header read once: the staged column (c0, c1, ...) behind each name of the column map."""

    filename: str
    content_hash: str
    rows: bytes
    width: int
    columns: BankColumns
    txn: str
    when: str
    amount: str
    currency: str | None
    order: str | None

    def stage(self) -> str:
        cells = ", ".join(f"c{i} text" for i in range(self.width))
        return f"CREATE TEMP TABLE statement_stage (n bigint GENERATED ALWAYS AS IDENTITY, {cells}) ON COMMIT DROP"

    def currency_sql(self, fixed: str) -> str:
        return f"COALESCE(NULLIF({self.currency}, ''), {fixed})" if self.currency else f"{fixed}::text"

    def kind_sql(self) -> str:
        return f"CASE WHEN {self.amount} LIKE '-%' THEN 'REFUND' ELSE 'PAYMENT' END"

    def amount_sql(self) -> str:
        """Minor units; a value with more than two decimals becomes NULL, which the NOT NULL column refuses."""
        return f"CASE WHEN {self.amount} NOT LIKE '%.___%' THEN ({self.amount}::numeric * 100)::bigint END"


def _layout(filename: str, data: bytes, columns: BankColumns) -> _Layout:
    if not columns.amount or columns.time_format != "%Y-%m-%d %H:%M:%S":
        raise ValueError("the bulk path reads signed amounts and %Y-%m-%d %H:%M:%S times only")
    try:
        body = data.decode(columns.encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(filename, line, None, f"not {columns.encoding} text") from exc
    newline = body.find("\n")
    header = next(csv.reader(io.StringIO(body[: newline if newline >= 0 else len(body)])))
    names = [h.strip() for h in header]
    missing = [c for c in (*columns.required(), columns.currency, columns.order_ref) if c and c not in names]
    if missing:
        raise StatementError(filename, 1, None, f"header lacks {', '.join(missing)}")
    index = {name: f"c{i}" for i, name in enumerate(names)}
    return _Layout(
        filename, hashlib.sha256(data).hexdigest(), body[newline + 1 :].encode() if newline >= 0 else b"",
        len(names), columns, index[columns.txn_id], index[columns.time], index[columns.amount],
        index[columns.currency] if columns.currency else None, index[columns.order_ref] if columns.order_ref else None,
    )  # fmt: skip


async def _driver(connection: AsyncConnection) -> Any:
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _existing(session: AsyncSession, layout: _Layout) -> Imported | None:
    found = (
        await session.execute(
            text("SELECT id, line_count FROM statement WHERE content_hash = :h"), {"h": layout.content_hash}
        )
    ).first()
    return None if found is None else Imported(int(found[0]), False, int(found[1]))


async def _stage(driver: Any, layout: _Layout) -> None:
    """Runs inside an open transaction, so that ON COMMIT DROP keeps the table until that transaction ends."""
    await driver.execute(layout.stage())
    await driver.copy_to_table(
        "statement_stage", source=io.BytesIO(layout.rows), format="csv", columns=[f"c{i}" for i in range(layout.width)]
    )


async def _period(driver: Any, layout: _Layout, tz: str) -> tuple[int, datetime, datetime]:
    """Line count and the whole local days the lines cover; the period is wrong only if a time is, and then
    the first bad line is named."""
    when = layout.when
    summary = await driver.fetchrow(
        f'SELECT count(*) AS n, min({when} COLLATE "C") AS first, max({when} COLLATE "C") AS last FROM statement_stage'
    )
    if summary is None or not summary["n"]:
        raise StatementError(layout.filename, 1, None, "no lines: the period cannot be known")
    tzinfo = ZoneInfo(tz)
    try:
        start = datetime.fromisoformat(summary["first"][:10]).replace(tzinfo=tzinfo)
        end = datetime.fromisoformat(summary["last"][:10]).replace(tzinfo=tzinfo) + timedelta(days=1)
    except (TypeError, ValueError):
        await _name_first_bad_line(driver, layout)
        raise
    return int(summary["n"]), start, end


async def _load(session: AsyncSession, layout: _Layout, *, provider: str, tz: str, uploaded_by: str) -> Imported:
    """Stage, check, record the statement and write its lines, all in the session's transaction."""
    connection = await session.connection()
    # Opens the transaction the staging table lives in; the times are read in the statement's zone (the same
    # as `::timestamp AT TIME ZONE`, at half the cost a line), and the caller's zone comes back afterwards.
    zone = (
        await connection.execute(
            text("SELECT current_setting('TimeZone'), set_config('TimeZone', :tz, true)"), {"tz": tz}
        )
    ).one()[0]
    driver = await _driver(connection)
    await _stage(driver, layout)
    count, start, end = await _period(driver, layout, tz)
    await driver.execute("SAVEPOINT bulk_statement")
    values: dict[str, Any] = {
        "provider": provider, "format": "bank-csv", "filename": layout.filename[:300],
        "content_hash": layout.content_hash, "period_start": start, "period_end": end, "line_count": count,
        "uploaded_by": uploaded_by, "received_at": utcnow(), "run_id": None,
    }  # fmt: skip
    statement_id = await insert_ignore(session, Statement, values, ("content_hash",))
    if statement_id is None:
        raise StatementError(layout.filename, 1, None, "imported concurrently by someone else")
    # The happy path does no per-line checks of its own: the INSERT's casts and NOT NULL columns refuse bad
    # values (a non-integral amount in fen becomes NULL, so do a time not written as 19 characters and a
    # currency that is not a two-decimal one), and only then does the slower diagnostic pass look for the
    # first bad line to name it.
    order = f"NULLIF({layout.order}, '')" if layout.order else "NULL"
    when, currency = layout.when, layout.currency_sql("$2")
    try:
        await driver.execute(
            f"""INSERT INTO statement_line (statement_id, line_no, provider_txn_id, kind, order_ref, amount,
                                            currency, occurred_at)
                SELECT $1, n + 1, NULLIF({layout.txn}, ''), {layout.kind_sql()}, {order}, {layout.amount_sql()},
                       CASE WHEN {currency} = ANY($3::text[]) THEN {currency} END,
                       CASE WHEN length({when}) = 19 THEN {when}::timestamptz END
                FROM statement_stage""",
            statement_id, layout.columns.fixed_currency, TWO_DECIMAL_CURRENCIES,
        )  # fmt: skip
    except asyncpg.PostgresError:
        await driver.execute("ROLLBACK TO SAVEPOINT bulk_statement")
        await _name_first_bad_line(driver, layout)
        raise
    await driver.execute("RELEASE SAVEPOINT bulk_statement")
    await driver.execute("SELECT set_config('TimeZone', $1, true)", zone)
    # Fresh statistics, so that what follows finds a statement's lines by their block range and not by a scan.
    await driver.execute("ANALYZE statement_line")
    return Imported(statement_id, True, count)


async def import_bank_csv(
    session: AsyncSession, filename: str, data: bytes, columns: BankColumns, *, provider: str, tz: str,
    uploaded_by: str,
) -> Imported:  # fmt: skip
    """Signed-amount layouts with two-decimal currencies and ISO-like times; anything else goes through
    `parse_statement`, which handles every layout."""
    layout = _layout(filename, data, columns)
    existing = await _existing(session, layout)
    if existing is not None:
        return existing
    return await _load(session, layout, provider=provider, tz=tz, uploaded_by=uploaded_by)


async def import_and_reconcile_bank_csv(
    session: AsyncSession, filename: str, data: bytes, columns: BankColumns, *, provider: str, tz: str,
    uploaded_by: str, trigger: str,
) -> tuple[Imported, list[ReconRun]]:  # fmt: skip
    """`import_bank_csv` then `reconcile` of that one statement, with the same result, in about the time the
    lines take to write: the classification runs meanwhile on a second connection, from its own copy of the
    file. The same file twice is imported once and reconciled once, as `reconcile` of nothing new would."""
    layout = _layout(filename, data, columns)
    existing = await _existing(session, layout)
    if existing is not None:
        return existing, []
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "sessions come from the factory, which binds them to the engine"
    async with engine.connect() as side:
        classifying = asyncio.create_task(_classify_staged(side, layout, provider=provider, tz=tz))
        try:
            imported = await _load(session, layout, provider=provider, tz=tz, uploaded_by=uploaded_by)
        except BaseException:
            # The writer's error names the bad line; the reader, fed the same bytes, fails alike or is cut short.
            classifying.cancel()
            with contextlib.suppress(BaseException):
                await classifying
            raise
        items = await classifying
    statement = await session.get(Statement, imported.statement_id)
    assert statement is not None
    run = await open_run(session, provider, [statement], trigger)
    arrays = [list(column) for column in zip(*items, strict=True)] if items else [[] for _ in range(7)]
    driver = await _driver(await session.connection())
    await driver.execute(
        """WITH found AS (
               SELECT l.id, l.line_no FROM statement_line l JOIN unnest($5::int[]) AS wanted (line_no) USING (line_no)
               WHERE l.statement_id = $9
           )
           INSERT INTO recon_item (run_id, drift, provider_txn_id, voucher_id, statement_line_id, system_amount,
                                   statement_amount, currency)
           SELECT $1, i.drift, i.txn, i.voucher_id, found.id, i.system_amount, i.statement_amount, i.currency
           FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $8::text[])
                AS i (drift, txn, voucher_id, line_no, system_amount, statement_amount, currency)
           LEFT JOIN found USING (line_no)""",
        run.id, *arrays, imported.statement_id,
    )  # fmt: skip
    counts = dict(Counter(str(item[0]) for item in items))
    return imported, [await close_run(session, run, imported.lines, counts)]


async def _classify_staged(side: AsyncConnection, layout: _Layout, *, provider: str, tz: str) -> list[tuple[Any, ...]]:
    """The to-check items of the file (line numbers for line ids), read on `side` and never written."""
    for setting in TUNE_POSTGRESQL:  # also opens the transaction the staging table lives in
        await side.execute(text(setting))
    driver = await _driver(side)
    await _stage(driver, layout)
    _, start, end = await _period(driver, layout, tz)
    lines = (
        f"SELECT n + 1 AS line_id, NULLIF({layout.txn}, '') AS txn, {layout.kind_sql()} AS kind, "
        f"{layout.amount_sql()} AS amount, {layout.currency_sql(':fixed_currency')} AS currency FROM statement_stage"
    )
    result = await side.execute(
        classified_items(lines),
        {"provider": provider, "start": start, "end": end, "fixed_currency": layout.columns.fixed_currency},
    )
    return [tuple(row) for row in result.all()]


async def _name_first_bad_line(driver: Any, layout: _Layout) -> None:
    txn, amount, when, currency = layout.txn, layout.amount, layout.when, layout.currency_sql("$1")
    invalid = (
        f"{txn} IS NULL OR {txn} = '' OR {amount} IS NULL OR {amount} !~ '{_AMOUNT}' "
        f"OR {when} IS NULL OR {when} !~ '{_TIME}' OR NOT ({currency} = ANY($2::text[]))"
    )
    row = await driver.fetchrow(
        f"SELECT n, {txn} AS txn, {amount} AS amount, {when} AS at, {currency} AS currency FROM statement_stage "
        f"WHERE {invalid} ORDER BY n LIMIT 1",
        layout.columns.fixed_currency, TWO_DECIMAL_CURRENCIES,
    )  # fmt: skip
    if row is None:
        return
    columns = layout.columns
    patterns = {"txn": r".+", "amount": _AMOUNT, "at": _TIME}
    column, value = next(
        (c, row[k]) for c, k in ((columns.txn_id, "txn"), (columns.amount, "amount"), (columns.time, "at"),
                                 (columns.currency, "currency"))
        if row[k] is None
        or (row[k] not in TWO_DECIMAL_CURRENCIES if k == "currency" else not re.match(patterns[k], row[k]))
    )  # fmt: skip
    message = "is not a two-decimal currency" if column == columns.currency else "is not valid here"
    raise StatementError(layout.filename, int(row["n"]) + 1, column, f"{value!r} {message}")
