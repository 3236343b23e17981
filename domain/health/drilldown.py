"""The orders behind each metric, ranked by what they contribute to it, a page at a time (keyset, never offset).

Each query returns keys and ranks only; the caller loads the page's orders, events and reports with the
loaders it already has, so a page costs a handful of queries whatever the period's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.policy import Role
from domain.columns import UtcDateTime
from domain.fulfilment.models import MONEY_KINDS, ExceptionKind
from domain.health.metrics import CLOSURE_WINDOW, UNMATCHED_LINE, attribution_sql, quoted, within_72h
from domain.health.windows import Window
from domain.orders.models import OrderEvent
from domain.orders.status import MOVES, EventType, OrderStatus
from domain.reconcile.models import Drift

CLOSER: dict[ExceptionKind, Role] = (
    {kind: Role.OPS for kind in ExceptionKind}
    | {kind: Role.FINANCE for kind in MONEY_KINDS}
    | {ExceptionKind.UNKNOWN_ORDER: Role.CS}
)
"""Whose people could have closed an exception of each kind: the floor's problems are ops', money's finance's,
an order nobody knows is customer service's to trace."""

UNMATCHED_ITEMS = (*UNMATCHED_LINE, Drift.MISSING_IN_STATEMENT)


@dataclass(frozen=True)
class Scope:
    window: Window
    channel: str | None = None
    warehouse_code: str | None = None

    def where(self, order: str = "o") -> str:
        parts = []
        if self.channel is not None:
            parts.append(f"{order}.channel = :channel")
        if self.warehouse_code is not None:
            parts.append(f"{order}.warehouse_code = :warehouse")
        return "".join(f" AND {p}" for p in parts)

    def params(self) -> dict[str, Any]:
        return {"start": self.window.start, "end": self.window.end, "channel": self.channel,
                "warehouse": self.warehouse_code}  # fmt: skip


def _run(sql: str, *times: str) -> Any:
    return text(sql).bindparams(*(bindparam(n, type_=UtcDateTime()) for n in times))


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    has_next: bool


def _page(rows: list[Any], first: int) -> Page:
    return Page([dict(r._mapping) for r in rows[:first]], len(rows) > first)


async def drifting_orders(session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None) -> Page:
    """Orders with drift above zero, most drift first; `after` is the last (drift, order id) seen."""
    drift = "(o.status_changes - o.min_status_changes)"
    keyset = "" if after is None else f" AND ({drift} < :d OR ({drift} = :d AND o.id < :after))"
    sql = f"""SELECT o.id AS order_id, {drift} AS drift FROM orders o
WHERE o.placed_at >= :start AND o.placed_at < :end AND {drift} > 0{scope.where()}{keyset}
ORDER BY drift DESC, o.id DESC LIMIT :limit"""
    params = {**scope.params(), "limit": first + 1}
    if after is not None:
        params |= {"d": after[0], "after": after[1]}
    return _page(list((await session.execute(_run(sql, "start", "end"), params)).all()), first)


@dataclass(frozen=True)
class Flip:
    version: int
    event: EventType
    from_status: OrderStatus
    to_status: OrderStatus
    occurred_at: datetime
    actor: str
    source: str


def flips(events: list[OrderEvent]) -> list[Flip]:
    """Every status change of one order, in version order, with the status it left."""
    out: list[Flip] = []
    previous: OrderStatus | None = None
    for event in sorted(events, key=lambda e: e.version):
        status = OrderStatus(event.status)
        if previous is not None and event.type in MOVES:
            out.append(
                Flip(
                    event.version, EventType(event.type), previous, status, event.occurred_at, event.actor, event.source
                )
            )
        previous = status
    return out


async def misattributed_groups(
    session: AsyncSession, scope: Scope, first: int, after: tuple[int, str, str] | None
) -> Page:
    """(landing URL, utm_source) groups of mis-attributed orders, largest first; '' stands for missing."""
    keyset = (
        ""
        if after is None
        else " AND (COUNT(*) < :n OR (COUNT(*) = :n AND (COALESCE(o.landing_url, '') > :u"
        " OR (COALESCE(o.landing_url, '') = :u AND COALESCE(o.utm_source, '') > :s))))"
    )
    sql = f"""SELECT COALESCE(o.landing_url, '') AS landing_url, COALESCE(o.utm_source, '') AS utm_source,
       COUNT(*) AS orders
FROM orders o
WHERE o.placed_at >= :start AND o.placed_at < :end AND NOT {attribution_sql()}{scope.where()}
GROUP BY COALESCE(o.landing_url, ''), COALESCE(o.utm_source, ''){" HAVING 1 = 1" + keyset if keyset else ""}
ORDER BY orders DESC, landing_url, utm_source LIMIT :limit"""
    params = {**scope.params(), "limit": first + 1}
    if after is not None:
        params |= {"n": after[0], "u": after[1], "s": after[2]}
    return _page(list((await session.execute(_run(sql, "start", "end"), params)).all()), first)


async def misattributed_orders(
    session: AsyncSession, scope: Scope, landing_url: str, utm_source: str, first: int, after: int | None
) -> Page:
    keyset = "" if after is None else " AND o.id < :after"
    sql = f"""SELECT o.id AS order_id FROM orders o
WHERE o.placed_at >= :start AND o.placed_at < :end AND NOT {attribution_sql()}{scope.where()}
  AND COALESCE(o.landing_url, '') = :u AND COALESCE(o.utm_source, '') = :s{keyset}
ORDER BY o.id DESC LIMIT :limit"""
    params = {**scope.params(), "u": landing_url, "s": utm_source, "after": after, "limit": first + 1}
    return _page(list((await session.execute(_run(sql, "start", "end"), params)).all()), first)


async def unmatched_items(session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None) -> Page:
    """To-check items of the current runs that leave a line or a voucher unmatched, largest amount first."""
    weight = "ABS(COALESCE(ri.statement_amount, ri.system_amount, 0))"
    keyset = "" if after is None else f" AND ({weight} < :w OR ({weight} = :w AND ri.id < :after))"
    filtered = scope.channel is not None or scope.warehouse_code is not None
    sql = f"""SELECT ri.id AS item_id, {weight} AS weight
FROM recon_item ri
LEFT JOIN statement_line l ON l.id = ri.statement_line_id
LEFT JOIN fund_voucher f ON f.id = ri.voucher_id
{"JOIN orders o ON o.id = f.order_id" if filtered else ""}
WHERE ri.drift IN ({quoted(UNMATCHED_ITEMS)})
  AND EXISTS (SELECT 1 FROM statement st WHERE st.run_id = ri.run_id)
  AND COALESCE(l.occurred_at, f.provider_time, f.received_at) >= :start
  AND COALESCE(l.occurred_at, f.provider_time, f.received_at) < :end{scope.where() if filtered else ""}{keyset}
ORDER BY weight DESC, ri.id DESC LIMIT :limit"""
    params = {**scope.params(), "limit": first + 1}
    if after is not None:
        params |= {"w": after[0], "after": after[1]}
    return _page(list((await session.execute(_run(sql, "start", "end"), params)).all()), first)


async def disagreeing_orders(session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None) -> Page:
    """Orders whose reporting systems name different customers; most distinct ids first."""
    ids = "COUNT(DISTINCT r.customer_id)"
    keyset = "" if after is None else f" HAVING ({ids} < :n OR ({ids} = :n AND o.id < :after))"
    sql = f"""SELECT o.id AS order_id, {ids} AS ids FROM orders o JOIN order_customer_ref r ON r.order_id = o.id
WHERE o.placed_at >= :start AND o.placed_at < :end AND o.customer_ids_differ = 1{scope.where()}
GROUP BY o.id{keyset}
ORDER BY ids DESC, o.id DESC LIMIT :limit"""
    params = {**scope.params(), "limit": first + 1}
    if after is not None:
        params |= {"n": after[0], "after": after[1]}
    return _page(list((await session.execute(_run(sql, "start", "end"), params)).all()), first)


def _late(session: AsyncSession) -> str:
    return (
        "x.opened_at >= :start AND x.opened_at < :end AND x.opened_at <= :aged "
        f"AND NOT {within_72h(session, 'x.opened_at', 'x.resolved_at')}"
    )


async def late_exceptions(session: AsyncSession, scope: Scope, now: datetime, first: int, after: int | None) -> Page:
    """Exceptions not closed within 72 h (still open past it, or closed late), oldest first."""
    join = "LEFT JOIN orders o ON o.id = x.order_id" if scope.channel or scope.warehouse_code else ""
    sql = f"""SELECT x.id AS exception_id FROM order_exception x {join}
WHERE {_late(session)}{scope.where()}{"" if after is None else " AND x.id > :after"}
ORDER BY x.id LIMIT :limit"""
    params = {**scope.params(), "aged": now - CLOSURE_WINDOW, "after": after, "limit": first + 1}
    return _page(list((await session.execute(_run(sql, "start", "end", "aged"), params)).all()), first)


@dataclass(frozen=True)
class LateCount:
    kind: ExceptionKind
    role: Role
    count: int


async def late_by_kind(session: AsyncSession, scope: Scope, now: datetime) -> list[LateCount]:
    join = "LEFT JOIN orders o ON o.id = x.order_id" if scope.channel or scope.warehouse_code else ""
    sql = f"""SELECT x.kind AS kind, COUNT(*) AS n FROM order_exception x {join}
WHERE {_late(session)}{scope.where()} GROUP BY x.kind ORDER BY n DESC, x.kind"""
    params = {**scope.params(), "aged": now - CLOSURE_WINDOW}
    rows = (await session.execute(_run(sql, "start", "end", "aged"), params)).all()
    return [LateCount(ExceptionKind(r.kind), CLOSER[ExceptionKind(r.kind)], int(r.n)) for r in rows]
