"""Large bank CSVs on PostgreSQL: COPY the raw file into a staging table and normalize it in one statement.

Row-by-row parsing in Python costs several microseconds a line; a million-line statement would spend
seconds there alone. The server parses CSV an order of magnitude faster, and the checks the Python
parser makes (amount syntax, time syntax, currency) become set-based queries that still name the line
and column of the first offence.

`import_and_reconcile_bank_csv` imports and reconciles at once: the file is read, checked, normalized and
classified in an embedded DuckDB (see `_Lake`), and PostgreSQL receives the lines by COPY, each already
carrying the order of its voucher, then the run and its to-check items, all in the session's one transaction.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import duckdb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.i18n import msg
from domain.money import CURRENCY_EXPONENTS
from domain.reconcile.matching import RECONCILED_VOUCHER, classified_items
from domain.reconcile.models import ReconRun, Statement
from domain.reconcile.service import LINE_COLUMNS, Imported, close_run, open_run
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
        raise StatementError(filename, line, None, msg("not {encoding} text", encoding=columns.encoding)) from exc
    newline = body.find("\n")
    header = next(csv.reader(io.StringIO(body[: newline if newline >= 0 else len(body)])))
    names = [h.strip() for h in header]
    missing = [c for c in (*columns.required(), columns.currency, columns.order_ref) if c and c not in names]
    if missing:
        raise StatementError(filename, 1, None, msg("header lacks {missing}", missing=", ".join(missing)))
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
        raise StatementError(layout.filename, 1, None, msg("no lines: the period cannot be known"))
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
        raise StatementError(layout.filename, 1, None, msg("imported concurrently by someone else"))
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
    """`import_bank_csv` then `reconcile` of that one statement, with the same result and the same single
    transaction, in about the time of one COPY of the file: see `_Lake`. The same file twice is imported once and
    reconciled once, as `reconcile` of nothing new would."""
    layout = _layout(filename, data, columns)
    existing = await _existing(session, layout)
    if existing is not None:
        return existing, []
    with tempfile.TemporaryDirectory(prefix="orderhub-statement-") as folder:
        lake = _Lake(Path(folder), layout)
        try:
            return await _import_and_reconcile(session, lake, provider=provider, tz=tz, uploaded_by=uploaded_by,
                                               trigger=trigger)  # fmt: skip
        finally:
            lake.close()


async def _import_and_reconcile(
    session: AsyncSession, lake: _Lake, *, provider: str, tz: str, uploaded_by: str, trigger: str
) -> tuple[Imported, list[ReconRun]]:
    layout = lake.layout
    driver = await _driver(await session.connection())
    # The vouchers of the days between the first and the last line (most files are in time order) are exported
    # while DuckDB reads and checks the file; whatever the whole period adds is exported afterwards.
    guess = _guess_days(layout, tz)
    exporting = asyncio.create_task(lake.export(driver, provider, *guess)) if guess else None
    try:
        count, first, last = await asyncio.to_thread(lake.read_and_check)
    finally:
        if exporting is not None:
            await exporting
    start, end = _days(layout, first, last, tz)
    if guess is None or not start <= guess[0] < guess[1] <= end:
        lake.forget_exports()
        await lake.export(driver, provider, start, end)
    else:
        for since, until in ((start, guess[0]), (guess[1], end)):
            if since < until:
                await lake.export(driver, provider, since, until)
    await asyncio.to_thread(lake.take_vouchers, end)
    values: dict[str, Any] = {
        "provider": provider, "format": "bank-csv", "filename": layout.filename[:300],
        "content_hash": layout.content_hash, "period_start": start, "period_end": end, "line_count": count,
        "uploaded_by": uploaded_by, "received_at": utcnow(), "run_id": None,
    }  # fmt: skip
    statement_id = await insert_ignore(session, Statement, values, ("content_hash",))
    if statement_id is None:
        raise StatementError(layout.filename, 1, None, msg("imported concurrently by someone else"))
    # The COPY reads the lines' local times in the statement's zone; the caller's comes back afterwards. DuckDB
    # classifies meanwhile: neither needs the other's answer.
    zone = await driver.fetchval("SELECT current_setting('TimeZone')")
    await driver.execute("SELECT set_config('TimeZone', $1, true)", tz)
    classifying = asyncio.create_task(asyncio.to_thread(lake.classify))
    try:
        await lake.store_lines(driver, statement_id, count)
    finally:
        unmatched, items = await classifying
    await driver.execute("SELECT set_config('TimeZone', $1, true)", zone)
    # A voucher notified outside the period takes part if the statement has its transaction id (the stored path's
    # `OR f.provider_txn_id IN (SELECT txn FROM s)`); looked up by the key's index for the lines that found no
    # voucher of their id and kind in the period. Rare: then the classification is done again and those lines
    # get their order.
    stray = await driver.fetch(
        f"""SELECT {_EXPORTED} FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id
            WHERE f.provider = $1 AND f.provider_txn_id = ANY($4::text[])
              AND NOT COALESCE(f.provider_time >= $2 AND f.provider_time < $3, false)""",
        provider, start, end, unmatched,
    ) if unmatched else []  # fmt: skip
    if stray:
        await asyncio.to_thread(lake.add_vouchers, [tuple(row) for row in stray])
        _, items = await asyncio.to_thread(lake.classify)
        await driver.execute(
            """UPDATE statement_line l SET order_id = f.order_id FROM fund_voucher f
               WHERE l.statement_id = $1 AND l.order_id IS NULL AND f.id = ANY($2::bigint[])
                 AND f.provider_txn_id = l.provider_txn_id AND f.kind = l.kind AND f.order_id IS NOT NULL""",
            statement_id, [row[0] for row in stray],
        )  # fmt: skip
    statement = await session.get(Statement, statement_id)
    assert statement is not None
    run = await open_run(session, provider, [statement], trigger)
    arrays = [list(column) for column in zip(*items, strict=True)] if items else [[] for _ in range(7)]
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
        run.id, *arrays, statement_id,
    )  # fmt: skip
    counts = dict(Counter(str(item[0]) for item in items))
    return Imported(statement_id, True, count), [await close_run(session, run, count, counts)]


_EXPORTED = f"""f.id, f.provider_txn_id, f.kind, f.amount, f.currency, f.status, f.order_ref, f.order_id,
    (date_part('epoch', f.received_at) * 1000000)::bigint,
    (o.cancelled_at IS NOT NULL AND o.cancelled_at < f.received_at), ({RECONCILED_VOUCHER})"""
"""What DuckDB is given of a voucher (`FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id`): the
columns `domain.reconcile.matching.voucher_columns` names, except that `late` is worked out in DuckDB from the
time received (in microseconds since 1970; exact in a double until the year 2255) once the period is known."""

_EXPORTED_TYPES = (
    ("voucher_id", "BIGINT"), ("txn", "VARCHAR"), ("kind", "VARCHAR"), ("amount", "BIGINT"), ("currency", "VARCHAR"),
    ("status", "VARCHAR"), ("order_ref", "VARCHAR"), ("order_id", "BIGINT"), ("received_us", "BIGINT"),
    ("cancelled_first", "BOOLEAN"), ("reconciled", "BOOLEAN"),
)  # fmt: skip

_DUCKDB_MEMORY = "1GB"
"""About three times what a million-line statement and its vouchers take."""

_LINES_A_COPY = 125_000
"""Lines per COPY: DuckDB writes the next part while PostgreSQL stores this one."""


class _Lake:
    """One statement file in an in-memory DuckDB, beside the session's PostgreSQL transaction.

    Why: on PostgreSQL the file went in three times over (a staging COPY, the `INSERT ... SELECT` into
    `statement_line` with its key, and the join that classifies), all on one core of a shared machine. DuckDB
    reads the CSV on every core in a fraction of a second, checks it, joins it with the period's vouchers
    (exported with `COPY ... TO STDOUT`) and writes the normalized lines, each with its voucher's order, as CSV
    that PostgreSQL COPYs straight into `statement_line`; the classification runs in DuckDB meanwhile, with the
    same SQL as a stored run (`domain.reconcile.matching`). PostgreSQL keeps everything stored: the statement,
    its lines, the run and its items, in the caller's one transaction. The files go through a temporary folder
    (about four times the statement's size). The methods that are not coroutines block: call them in a thread."""

    def __init__(self, folder: Path, layout: _Layout) -> None:
        self.layout = layout
        self.folder = folder
        self.exports: list[Path] = []
        # Bounded, so that a big statement spills to the temporary folder rather than swell the API process.
        self.db = duckdb.connect(":memory:", config={"memory_limit": _DUCKDB_MEMORY, "temp_directory": str(folder)})

    def close(self) -> None:
        self.db.close()

    def read_and_check(self) -> tuple[int, str | None, str | None]:
        """The file read in and checked (the first offending line is named, as the PostgreSQL path does); its
        line count and first and last time, for the period."""
        layout = self.layout
        path = self.folder / "statement.csv"
        path.write_bytes(layout.rows)
        cells = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(layout.width))
        try:
            self.db.execute(
                f"CREATE TABLE raw AS SELECT * FROM read_csv({_literal(path)}, {_CSV}, columns = {{{cells}}})"
            )
        except duckdb.Error as exc:
            raise StatementError(
                layout.filename, 1, None, msg("not a CSV file of {width} columns: {exc}", width=layout.width, exc=exc)
            ) from exc
        # Row ids now number the lines in file order; nothing after this depends on the order rows come out in.
        self.db.execute("SET preserve_insertion_order = false")
        fixed = layout.columns.fixed_currency
        currency = layout.currency_sql(_quote(fixed) if fixed else "NULL::VARCHAR")
        txn, amount, when = layout.txn, layout.amount, layout.when
        invalid = (
            f"{txn} IS NULL OR {txn} = '' OR {amount} IS NULL OR NOT regexp_matches({amount}, '{_AMOUNT}') "
            f"OR {when} IS NULL OR NOT regexp_matches({when}, '{_TIME}') "
            f"OR NOT COALESCE({currency} IN ({', '.join(_quote(c) for c in TWO_DECIMAL_CURRENCIES)}), false)"
        )
        bad = self.db.execute(
            f"SELECT rowid + 2, {txn}, {amount}, {when}, {currency} FROM raw WHERE {invalid} ORDER BY rowid LIMIT 1"
        ).fetchone()
        if bad is not None:
            raise _offence(layout, int(bad[0]), {"txn": bad[1], "amount": bad[2], "at": bad[3], "currency": bad[4]})
        # The lines as `statement_line` has them, line numbers standing for ids, cast once.
        self.db.execute(
            f"""CREATE TABLE lines AS SELECT rowid + 2 AS line_no, {txn} AS txn, {layout.kind_sql()} AS kind,
                  {f"NULLIF({layout.order}, '')" if layout.order else "NULL::VARCHAR"} AS order_ref,
                  CAST(CAST({amount} AS DECIMAL(18, 2)) * 100 AS BIGINT) AS amount, {currency} AS currency,
                  {when} AS occurred_at
                FROM raw"""
        )  # fmt: skip
        self.db.execute("DROP TABLE raw")
        summary = self.db.execute("SELECT count(*), min(occurred_at), max(occurred_at) FROM lines").fetchone()
        assert summary is not None
        return int(summary[0]), summary[1], summary[2]

    async def export(self, driver: Any, provider: str, since: datetime, until: datetime) -> None:
        """The provider's vouchers with a provider time in [since, until), into a CSV file of their own."""
        path = self.folder / f"vouchers-{len(self.exports)}.csv"
        self.exports.append(path)
        await driver.copy_from_query(
            f"""SELECT {_EXPORTED} FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id
                WHERE f.provider = $1 AND f.provider_time >= $2 AND f.provider_time < $3""",
            provider, since, until, output=str(path), format="csv",
        )  # fmt: skip

    def forget_exports(self) -> None:
        self.exports = []

    def take_vouchers(self, end: datetime) -> None:
        """The exported vouchers read in, late ones (received after `end` or after their order's cancellation)
        marked."""
        files = "[" + ", ".join(_literal(p) for p in self.exports) + "]"
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in _EXPORTED_TYPES)
        self.db.execute(f"CREATE TABLE exported AS SELECT * FROM read_csv({files}, {_CSV}, columns = {{{columns}}})")
        end_us = int(end.timestamp()) * 1_000_000 + end.microsecond
        self.db.execute(
            f"""CREATE VIEW vouchers AS SELECT voucher_id, txn, kind, amount, currency, status, order_ref, order_id,
                  (received_us >= {end_us} OR cancelled_first) AS late, reconciled
                FROM exported"""
        )  # fmt: skip

    def add_vouchers(self, rows: list[tuple[Any, ...]]) -> None:
        self.db.executemany(f"INSERT INTO exported VALUES ({', '.join('?' for _ in _EXPORTED_TYPES)})", rows)

    async def store_lines(self, driver: Any, statement_id: int, count: int) -> None:
        """The lines COPYed into `statement_line`, each with the order of the voucher of its transaction id and
        kind, part by part: DuckDB writes the next part while PostgreSQL stores the one before."""
        columns = [*LINE_COLUMNS, "order_id"]
        parts = [(since, min(since + _LINES_A_COPY, count)) for since in range(0, count, _LINES_A_COPY)]
        writer = self.db.cursor()
        try:
            written = asyncio.create_task(asyncio.to_thread(self._write_part, writer, statement_id, *parts[0]))
            for index in range(len(parts)):
                path = await written
                if index + 1 < len(parts):
                    written = asyncio.create_task(
                        asyncio.to_thread(self._write_part, writer, statement_id, *parts[index + 1])
                    )
                try:
                    await driver.copy_to_table("statement_line", source=str(path), format="csv", columns=columns)
                except BaseException:
                    if index + 1 < len(parts):
                        await written
                    raise
        finally:
            writer.close()

    def _write_part(self, cursor: duckdb.DuckDBPyConnection, statement_id: int, since: int, until: int) -> Path:
        path = self.folder / f"lines-{since}.csv"
        cursor.execute(
            f"""COPY (SELECT {int(statement_id)}, l.line_no, l.txn, l.kind, l.order_ref, l.amount, l.currency,
                             l.occurred_at, v.order_id
                      FROM lines l LEFT JOIN exported v ON v.txn = l.txn AND v.kind = l.kind
                      WHERE l.line_no >= {since + 2} AND l.line_no < {until + 2})
                TO {_literal(path)} (FORMAT csv, HEADER false)"""
        )  # fmt: skip
        return path

    def classify(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The transaction ids of lines that found no voucher of their id and kind, and the to-check items, line
        numbers standing for line ids."""
        query = classified_items(
            "SELECT line_no AS line_id, txn, kind, amount, currency FROM lines",
            "SELECT * FROM vouchers WHERE reconciled",
        )
        cursor = self.db.cursor()
        try:
            unmatched = cursor.execute(
                "SELECT DISTINCT l.txn FROM lines l ANTI JOIN exported v ON v.txn = l.txn AND v.kind = l.kind"
            ).fetchall()
            items = [tuple(row) for row in cursor.execute(query).fetchall()]
        finally:
            cursor.close()
        return [str(row[0]) for row in unmatched], items


_CSV = "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false"
"""PostgreSQL's CSV as DuckDB reads it: an empty quoted cell is an empty string, not NULL."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal(path: Path) -> str:
    return _quote(str(path))


def _guess_days(layout: _Layout, tz: str) -> tuple[datetime, datetime] | None:
    """The days from the first line's time to the last's, or None where either is not plainly a time: part of the
    period (the whole is from the earliest to the latest) whichever order the file is in."""
    rows = layout.rows
    newline = rows.find(b"\n")
    firsts = rows[: newline if newline >= 0 else len(rows)]
    body = rows.rstrip(b"\r\n")
    lasts = body[body.rfind(b"\n") + 1 :]
    column = int(layout.when[1:])
    try:
        times = [next(csv.reader([line.decode()]))[column] for line in (firsts, lasts)]
    except (UnicodeDecodeError, StopIteration, IndexError, csv.Error):
        return None
    if not all(re.match(_TIME, t) for t in times):
        return None
    try:
        return _days(layout, min(times), max(times), tz)
    except ValueError:
        return None


def _days(layout: _Layout, first: str | None, last: str | None, tz: str) -> tuple[datetime, datetime]:
    """The whole local days the lines cover."""
    if first is None or last is None:
        raise StatementError(layout.filename, 1, None, msg("no lines: the period cannot be known"))
    tzinfo = ZoneInfo(tz)
    start = datetime.fromisoformat(first[:10]).replace(tzinfo=tzinfo)
    return start, datetime.fromisoformat(last[:10]).replace(tzinfo=tzinfo) + timedelta(days=1)


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
    raise _offence(layout, int(row["n"]) + 1, dict(row))


def _offence(layout: _Layout, line: int, row: dict[str, Any]) -> StatementError:
    """The first offending column of an offending line (its cells by `txn`, `amount`, `at` and `currency`)."""
    columns = layout.columns
    patterns = {"txn": r".+", "amount": _AMOUNT, "at": _TIME}
    column, value = next(
        (c, row[k]) for c, k in ((columns.txn_id, "txn"), (columns.amount, "amount"), (columns.time, "at"),
                                 (columns.currency, "currency"))
        if row[k] is None
        or (row[k] not in TWO_DECIMAL_CURRENCIES if k == "currency" else not re.match(patterns[k], row[k]))
    )  # fmt: skip
    if column == columns.currency:
        return StatementError(
            layout.filename, line, column, msg("{value} is not a two-decimal currency", value=repr(value))
        )
    return StatementError(layout.filename, line, column, msg("{value} is not valid here", value=repr(value)))
