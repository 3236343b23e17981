"""The orders behind each metric, ranked by what they contribute to it, a page at a time (keyset, never offset).

Each page is one ranking query for the keys, then one query per kind of row it shows (orders, events, reports,
items), so a page costs a handful of queries whatever the period's size. Every entry carries its `key`: the
ranking values the next page starts after, which the API wraps in its cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import bindparam, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.policy import Role
from domain.columns import UtcDateTime
from domain.fulfilment.models import MONEY_KINDS, ExceptionKind, OrderException
from domain.health.customer_refs import differing_systems, refs_of
from domain.health.metrics import (
    CLOSURE_WINDOW,
    ORDER_PERIOD,
    UNMATCHED_LINE,
    quoted,
    within_72h,
)
from domain.health.models import OrderCustomerRef
from domain.health.windows import Window
from domain.ledger.models import FundVoucher
from domain.orders import queries
from domain.orders.channels import attribution_sql
from domain.orders.models import DRIFTING, IDS_DIFFER, Order, OrderEvent
from domain.orders.status import MOVES, EventType, OrderStatus
from domain.reconcile.models import Drift, ReconItem, ReconRun

CLOSER: dict[ExceptionKind, Role] = (
    {kind: Role.OPS for kind in ExceptionKind}
    | {kind: Role.FINANCE for kind in MONEY_KINDS}
    | {ExceptionKind.UNKNOWN_ORDER: Role.CS, ExceptionKind.INVOICE_CONFLICT: Role.FINANCE}
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


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    entries: list[T]
    has_next: bool


def _rows(rows: Sequence[Any], first: int) -> tuple[list[dict[str, Any]], bool]:
    return [dict(r._mapping) for r in rows[:first]], len(rows) > first


async def _ranked(session: AsyncSession, sql: str, params: dict[str, Any], first: int, *times: str) -> Any:
    rows = (await session.execute(_run(sql, *times), {**params, "limit": first + 1})).all()
    return _rows(rows, first)


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


@dataclass(frozen=True)
class DriftingOrder:
    order_id: int
    drift: int
    flips: list[Flip]

    @property
    def key(self) -> tuple[int, int]:
        return (self.drift, self.order_id)


async def drifting_orders(
    session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None
) -> Page[DriftingOrder]:
    """Orders with drift above zero, most drift first, each with every flip; `after` is the last key seen."""
    drift = "(o.status_changes - o.min_status_changes)"
    keyset = "" if after is None else f" AND ({drift} < :d OR ({drift} = :d AND o.id < :after))"
    sql = f"""SELECT o.id AS order_id, {drift} AS drift FROM orders o
WHERE {ORDER_PERIOD} AND {DRIFTING.format(o="o.")}{scope.where()}{keyset}
ORDER BY drift DESC, o.id DESC LIMIT :limit"""
    params = scope.params()
    if after is not None:
        params |= {"d": after[0], "after": after[1]}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end")
    events = await queries.events_of(session, [int(r["order_id"]) for r in rows])
    entries = [DriftingOrder(int(r["order_id"]), int(r["drift"]), flips(events[int(r["order_id"])])) for r in rows]
    return Page(entries, has_next)


@dataclass(frozen=True)
class MisattributionGroup:
    """Mis-attributed orders sharing a landing URL and utm_source; '' stands for missing."""

    landing_url: str
    utm_source: str
    order_count: int

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.order_count, self.landing_url, self.utm_source)


async def misattributed_groups(
    session: AsyncSession, scope: Scope, first: int, after: tuple[int, str, str] | None
) -> Page[MisattributionGroup]:
    """(landing URL, utm_source) groups of mis-attributed orders, largest first."""
    keyset = (
        ""
        if after is None
        else " AND (COUNT(*) < :n OR (COUNT(*) = :n AND (COALESCE(o.landing_url, '') > :u"
        " OR (COALESCE(o.landing_url, '') = :u AND COALESCE(o.utm_source, '') > :s))))"
    )
    sql = f"""SELECT COALESCE(o.landing_url, '') AS landing_url, COALESCE(o.utm_source, '') AS utm_source,
       COUNT(*) AS orders
FROM orders o
WHERE {ORDER_PERIOD} AND NOT {attribution_sql()}{scope.where()}
GROUP BY COALESCE(o.landing_url, ''), COALESCE(o.utm_source, ''){" HAVING 1 = 1" + keyset if keyset else ""}
ORDER BY orders DESC, landing_url, utm_source LIMIT :limit"""
    params = scope.params()
    if after is not None:
        params |= {"n": after[0], "u": after[1], "s": after[2]}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end")
    return Page([MisattributionGroup(r["landing_url"], r["utm_source"], int(r["orders"])) for r in rows], has_next)


async def misattributed_orders(
    session: AsyncSession, scope: Scope, landing_url: str, utm_source: str, first: int, after: int | None
) -> Page[Order]:
    """One group's orders, newest id first; `after` is the last order id seen."""
    keyset = "" if after is None else " AND o.id < :after"
    sql = f"""SELECT o.id AS order_id FROM orders o
WHERE {ORDER_PERIOD} AND NOT {attribution_sql()}{scope.where()}
  AND COALESCE(o.landing_url, '') = :u AND COALESCE(o.utm_source, '') = :s{keyset}
ORDER BY o.id DESC LIMIT :limit"""
    params = {**scope.params(), "u": landing_url, "s": utm_source, "after": after}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end")
    ids = [int(r["order_id"]) for r in rows]
    orders = await queries.get_orders(session, queries.EVERYONE, ids)
    return Page([orders[i] for i in ids], has_next)


@dataclass(frozen=True)
class UnmatchedItem:
    """A to-check item leaving a statement line without a voucher (side STATEMENT_LINE) or the reverse."""

    item: ReconItem
    weight: int
    provider: str
    order_id: int | None

    @property
    def side(self) -> str:
        return "VOUCHER" if self.item.statement_line_id is None else "STATEMENT_LINE"

    @property
    def key(self) -> tuple[int, int]:
        assert self.item.id is not None
        return (self.weight, self.item.id)


async def unmatched_items(
    session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None
) -> Page[UnmatchedItem]:
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
    params = scope.params()
    if after is not None:
        params |= {"w": after[0], "after": after[1]}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end")
    ids = [int(r["item_id"]) for r in rows]
    items = {i.id: i for i in await session.exec(select(ReconItem).where(col(ReconItem.id).in_(ids)))}
    run_ids = {i.run_id for i in items.values()}
    runs = {r.id: r for r in await session.exec(select(ReconRun).where(col(ReconRun.id).in_(run_ids)))}
    voucher_ids = {i.voucher_id for i in items.values() if i.voucher_id is not None}
    vouchers = {v.id: v for v in await session.exec(select(FundVoucher).where(col(FundVoucher.id).in_(voucher_ids)))}
    entries = []
    for r in rows:
        item = items[int(r["item_id"])]
        voucher = vouchers.get(item.voucher_id) if item.voucher_id is not None else None
        order_id = None if voucher is None else voucher.order_id
        entries.append(UnmatchedItem(item, int(r["weight"]), runs[item.run_id].provider, order_id))
    return Page(entries, has_next)


@dataclass(frozen=True)
class IdDisagreement:
    order_id: int
    distinct_ids: int
    reports: list[OrderCustomerRef]
    differing_systems: list[str]
    """The systems whose id differs from the majority."""

    @property
    def key(self) -> tuple[int, int]:
        return (self.distinct_ids, self.order_id)


async def disagreeing_orders(
    session: AsyncSession, scope: Scope, first: int, after: tuple[int, int] | None
) -> Page[IdDisagreement]:
    """Orders whose reporting systems name different customers; most distinct ids first."""
    ids = "COUNT(DISTINCT r.customer_id)"
    keyset = "" if after is None else f" HAVING ({ids} < :n OR ({ids} = :n AND o.id < :after))"
    sql = f"""SELECT o.id AS order_id, {ids} AS ids FROM orders o JOIN order_customer_ref r ON r.order_id = o.id
WHERE {ORDER_PERIOD} AND {IDS_DIFFER.format(o="o.")}{scope.where()}
GROUP BY o.id{keyset}
ORDER BY ids DESC, o.id DESC LIMIT :limit"""
    params = scope.params()
    if after is not None:
        params |= {"n": after[0], "after": after[1]}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end")
    refs = await refs_of(session, [int(r["order_id"]) for r in rows])
    entries = []
    for r in rows:
        reports = refs[int(r["order_id"])]
        entries.append(IdDisagreement(int(r["order_id"]), int(r["ids"]), reports, differing_systems(reports)))
    return Page(entries, has_next)


def _late(session: AsyncSession) -> str:
    return (
        "x.opened_at >= :start AND x.opened_at < :end AND x.opened_at <= :aged "
        f"AND NOT {within_72h(session, 'x.opened_at', 'x.resolved_at')}"
    )


@dataclass(frozen=True)
class LateException:
    exception: OrderException
    role: Role
    """The staff role that could have closed it."""
    hours_open: float
    """Until resolution, or until now while open."""


async def late_exceptions(
    session: AsyncSession, scope: Scope, now: datetime, first: int, after: int | None
) -> Page[LateException]:
    """Exceptions not closed within 72 h (still open past it, or closed late), oldest first; `after` is the
    last exception id seen."""
    join = "LEFT JOIN orders o ON o.id = x.order_id" if scope.channel or scope.warehouse_code else ""
    sql = f"""SELECT x.id AS exception_id FROM order_exception x {join}
WHERE {_late(session)}{scope.where()}{"" if after is None else " AND x.id > :after"}
ORDER BY x.id LIMIT :limit"""
    params = {**scope.params(), "aged": now - CLOSURE_WINDOW, "after": after}
    rows, has_next = await _ranked(session, sql, params, first, "start", "end", "aged")
    entries = []
    for r in rows:
        x = await session.get(OrderException, int(r["exception_id"]))
        if x is not None:
            hours = round(((x.resolved_at or now) - x.opened_at).total_seconds() / 3600, 2)
            entries.append(LateException(x, CLOSER[ExceptionKind(x.kind)], hours))
    return Page(entries, has_next)


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
