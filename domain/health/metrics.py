"""The five metrics as SQL aggregates: one grouped query per metric, returning counts per (channel, warehouse).

Nothing here loads an order into Python; the rows that come back are one per channel and warehouse. Drift and
ID consistency read counters each order keeps, written in the same transaction as the event or report that
changes them (a day of them is one scan of orders); the event-log form of drift stays here to check them. Every
query runs unchanged on SQLite and PostgreSQL except the 72-hour comparison, which `within_72h` spells per
dialect. The period of an order metric is the order's placement; of vouchers, the statement line's time; of
exceptions, their opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import TextClause, bindparam, text
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.columns import UtcDateTime
from domain.health.thresholds import Metric
from domain.health.windows import Dimension, Window
from domain.orders.channels import attribution_sql
from domain.orders.status import GRAPH, MOVES, EventType, OrderStatus, shortest_path_length
from domain.reconcile.models import Drift
from domain.sql import dialect

CLOSURE_WINDOW = timedelta(hours=72)
TUNE_POSTGRESQL = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'")
"""Compiling these scans costs more than running them; the per-line voucher join wants its hashes in memory."""

FULFILMENT_STAGES = (OrderStatus.PICKED, OrderStatus.PACKED)
"""Stages the status graph lets an order skip (SHIP_REQUESTED -> SHIPPED is legal); one the order did enter is
a waypoint of its shortest path, so a normal pick-pack-ship flow counts no drift."""

UNMATCHED_LINE = (
    Drift.MISSING_IN_SYSTEM, Drift.DUPLICATE_IN_STATEMENT, Drift.AMOUNT_MISMATCH, Drift.CURRENCY_MISMATCH,
    Drift.STATUS_MISMATCH,
)  # fmt: skip
"""A statement line with one of these items found no confirmed voucher of the same amount, currency and kind."""


def quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # enum values only: never user input


def shortest_path_sql(first: str, current: str) -> str:
    """CASE over every (first, current) pair the graph connects: the minimum number of status changes."""
    branches = []
    for start in GRAPH:
        inner = " ".join(
            f"WHEN '{end.value}' THEN {length}"
            for end in GRAPH
            if (length := shortest_path_length(start, end)) is not None and length > 0
        )
        if inner:
            branches.append(f"WHEN '{start.value}' THEN CASE {current} {inner} ELSE 0 END")
    return f"CASE {first} {' '.join(branches)} ELSE 0 END"


_STAGE_EVENTS = quoted(e.value for e in (EventType.ORDER_PICKED, EventType.ORDER_PACKED))
_MOVES = quoted(sorted(e.value for e in MOVES))

# drift of one order = changes - (shortest path + stages entered other than the current one); summed over rows
DRIFT_TERMS = f"""
    SUM(CASE WHEN e.type IN ({_MOVES}) THEN 1 ELSE 0 END)
  - SUM(CASE WHEN e.version = 1 THEN {shortest_path_sql("e.status", "o.status")} ELSE 0 END)
  - SUM(CASE WHEN e.type IN ({_STAGE_EVENTS}) AND e.status <> o.status THEN 1 ELSE 0 END)
"""


def within_72h(session: AsyncSession, opened: str, resolved: str) -> str:
    if dialect(session) == "postgresql":
        return f"({resolved} IS NOT NULL AND {resolved} <= {opened} + INTERVAL '72 hours')"
    return f"({resolved} IS NOT NULL AND julianday({resolved}) <= julianday({opened}) + 3.0)"


def _timed(sql: str, *names: str) -> TextClause:
    return text(sql).bindparams(*(bindparam(n, type_=UtcDateTime()) for n in names))


COUNTED = "o.status <> 'VOID'"
"""An order superseded by the true one (domain/orders/supersede.py) is the same sale: counting both would count
that sale twice, so health reads only the order that stands."""
ORDER_PERIOD = f"o.placed_at >= :start AND o.placed_at < :end AND {COUNTED}"
DIMENSIONS = "o.channel AS channel, o.warehouse_code AS warehouse_code"
GROUP = "GROUP BY o.channel, o.warehouse_code"

ORDER_TERMS: dict[Metric, tuple[str, str]] = {
    Metric.STATUS_DRIFT: ("SUM(o.status_changes - o.min_status_changes)", "COUNT(*)"),
    Metric.CHANNEL_ATTRIBUTION: (f"SUM(CASE WHEN {attribution_sql()} THEN 1 ELSE 0 END)", "COUNT(*)"),
    Metric.ID_CONSISTENCY: (
        "SUM(CASE WHEN o.customer_refs >= 2 AND o.customer_ids_differ = 0 THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN o.customer_refs >= 2 THEN 1 ELSE 0 END)",
    ),
}
"""Numerator and denominator of each metric that reads only counters kept on the day's orders."""


def _order_metric(metric: Metric) -> TextClause:
    numerator, denominator = ORDER_TERMS[metric]
    return _timed(
        f"""SELECT {DIMENSIONS}, {numerator} AS numerator, {denominator} AS denominator
FROM orders o WHERE {ORDER_PERIOD} {GROUP}""",
        "start",
        "end",
    )


STATUS_DRIFT = _order_metric(Metric.STATUS_DRIFT)

ORDER_METRICS_TOGETHER = _timed(
    f"""SELECT {DIMENSIONS}, """
    + ", ".join(f"{n} AS n{i}, {d} AS d{i}" for i, (n, d) in enumerate(ORDER_TERMS.values()))
    + f"""
FROM orders o WHERE {ORDER_PERIOD} {GROUP}""",
    "start",
    "end",
)
"""The order metrics of `ORDER_TERMS` from one scan of the day's orders instead of one each: the scan is most of
their cost."""

STATUS_DRIFT_FROM_EVENTS = _timed(
    f"""SELECT {DIMENSIONS}, {DRIFT_TERMS} AS numerator, SUM(CASE WHEN e.version = 1 THEN 1 ELSE 0 END) AS denominator
FROM orders o JOIN order_event e ON e.order_id = o.id
WHERE {ORDER_PERIOD} {GROUP}""",
    "start",
    "end",
)
"""The same numbers from the event log itself: the check that the counters kept on each order tell the truth."""

CHANNEL_ATTRIBUTION = _order_metric(Metric.CHANNEL_ATTRIBUTION)

_UNMATCHED = f"ri.run_id = st.run_id AND ri.drift IN ({quoted(UNMATCHED_LINE)})"
_LINES = "st.run_id IS NOT NULL AND l.occurred_at >= :start AND l.occurred_at < :end"

VOUCHER_MATCH = _timed(
    f"""SELECT {DIMENSIONS}, COUNT(*) - COUNT(u.statement_line_id) AS numerator, COUNT(*) AS denominator
FROM statement_line l JOIN statement st ON st.id = l.statement_id LEFT JOIN orders o ON o.id = l.order_id
LEFT JOIN (SELECT DISTINCT ri.run_id, ri.statement_line_id FROM recon_item ri
           WHERE ri.drift IN ({quoted(UNMATCHED_LINE)})) u ON u.statement_line_id = l.id AND u.run_id = st.run_id
WHERE {_LINES} {GROUP}""",
    "start",
    "end",
)
"""Per channel and warehouse through the order reconciliation stored on each line (its voucher's order), so the
vouchers are not joined at all; the few unmatched lines are joined as a set, not looked up line by line."""

VOUCHER_MATCH_OVERALL = _timed(
    f"""SELECT NULL AS channel, NULL AS warehouse_code, COUNT(*) - (
         SELECT COUNT(*) FROM recon_item ri JOIN statement_line l ON l.id = ri.statement_line_id
         JOIN statement st ON st.id = l.statement_id WHERE {_LINES} AND {_UNMATCHED}) AS numerator,
       COUNT(*) AS denominator
FROM statement_line l JOIN statement st ON st.id = l.statement_id WHERE {_LINES}""",
    "start",
    "end",
)
"""Overall, the lines are counted and the few unmatched ones subtracted: no join to vouchers or orders at all."""

ID_CONSISTENCY = _order_metric(Metric.ID_CONSISTENCY)


def exception_closure(session: AsyncSession, *, grouped: bool = True) -> TextClause:
    closed = within_72h(session, "x.opened_at", "x.resolved_at")
    # A day's few exceptions look their orders up one by one (the LIMIT keeps PostgreSQL from turning the lookup
    # back into a join that hashes every order).
    join = (
        "LEFT JOIN LATERAL (SELECT o.channel, o.warehouse_code FROM orders o WHERE o.id = x.order_id LIMIT 1) o ON true"
        if dialect(session) == "postgresql"
        else "LEFT JOIN orders o ON o.id = x.order_id"
    )
    dims, join, group = (DIMENSIONS, join, GROUP) if grouped else ("NULL AS channel, NULL AS warehouse_code", "", "")
    return _timed(
        f"""SELECT {dims}, SUM(CASE WHEN {closed} THEN 1 ELSE 0 END) AS numerator,
       SUM(CASE WHEN {closed} OR x.opened_at <= :aged THEN 1 ELSE 0 END) AS denominator
FROM order_exception x {join}
WHERE x.opened_at >= :start AND x.opened_at < :end {group}""",
        "start",
        "end",
        "aged",
    )


@dataclass(frozen=True)
class Counts:
    channel: str | None
    warehouse_code: str | None
    numerator: int
    denominator: int


@dataclass(frozen=True)
class Measured:
    metric: Metric
    dimension: Dimension
    channel: str | None
    warehouse_code: str | None
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """Null for an empty period: zero orders is no rate at all, not a division error."""
        return self.numerator / self.denominator if self.denominator else None


async def measure(
    session: AsyncSession, metric: Metric, window: Window, now: datetime, *, grouped: bool = True
) -> list[Counts]:
    """One query: counts per (channel, warehouse) for the window, as of `now`; `grouped=False` may answer with
    one overall row where that is much cheaper (vouchers)."""
    params: dict[str, object] = {"start": window.start, "end": window.end}
    if metric is Metric.VOUCHER_MATCH and not grouped:
        query = VOUCHER_MATCH_OVERALL
    elif metric is Metric.EXCEPTION_CLOSURE:
        query = exception_closure(session, grouped=grouped)
        params["aged"] = now - CLOSURE_WINDOW
    else:
        query = {
            Metric.STATUS_DRIFT: STATUS_DRIFT,
            Metric.CHANNEL_ATTRIBUTION: CHANNEL_ATTRIBUTION,
            Metric.VOUCHER_MATCH: VOUCHER_MATCH,
            Metric.ID_CONSISTENCY: ID_CONSISTENCY,
        }[metric]
    if dialect(session) == "postgresql":
        for setting in TUNE_POSTGRESQL:
            await session.execute(text(setting))
    rows = (await session.execute(query, params)).all()
    return [Counts(r.channel, r.warehouse_code, int(r.numerator or 0), int(r.denominator or 0)) for r in rows]


def roll_up(metric: Metric, counts: list[Counts], dimension: Dimension) -> list[Measured]:
    """Sums the per-(channel, warehouse) rows into one row for ALL, or one per channel or per warehouse."""
    totals: dict[tuple[str | None, str | None], list[int]] = {}
    if dimension is Dimension.ALL:
        totals[(None, None)] = [0, 0]
    for c in counts:
        key = {
            Dimension.ALL: (None, None),
            Dimension.CHANNEL: (c.channel, None),
            Dimension.WAREHOUSE: (None, c.warehouse_code),
        }[dimension]
        total = totals.setdefault(key, [0, 0])
        total[0] += c.numerator
        total[1] += c.denominator
    return [
        Measured(metric, dimension, channel, warehouse, n, d)
        for (channel, warehouse), (n, d) in sorted(totals.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    ]


async def measure_many(
    session: AsyncSession, metrics: Iterable[Metric], window: Window, now: datetime, *, grouped: bool = True
) -> dict[Metric, list[Counts]]:
    """What `measure` answers for each metric, with the order metrics read in one scan when more than one is
    asked for."""
    wanted = list(dict.fromkeys(metrics))
    together = [m for m in wanted if m in ORDER_TERMS]
    found: dict[Metric, list[Counts]] = {}
    if len(together) > 1:
        if dialect(session) == "postgresql":
            for setting in TUNE_POSTGRESQL:
                await session.execute(text(setting))
        rows = (await session.execute(ORDER_METRICS_TOGETHER, {"start": window.start, "end": window.end})).all()
        for i, metric in enumerate(ORDER_TERMS):
            if metric in together:
                found[metric] = [
                    Counts(r.channel, r.warehouse_code, int(r._mapping[f"n{i}"] or 0), int(r._mapping[f"d{i}"] or 0))
                    for r in rows
                ]
    for metric in wanted:
        if metric not in found:
            found[metric] = await measure(session, metric, window, now, grouped=grouped)
    return {metric: found[metric] for metric in wanted}


async def measure_all(
    session: AsyncSession, metrics: Iterable[Metric], window: Window, now: datetime, dimension: Dimension
) -> list[Measured]:
    asked = list(metrics)
    counted = await measure_many(session, asked, window, now, grouped=dimension is not Dimension.ALL)
    return [row for metric in asked for row in roll_up(metric, counted[metric], dimension)]
