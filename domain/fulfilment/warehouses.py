"""The warehouses orderhub has seen, and which warehouse an exception belongs to.

No table lists warehouses: partners name them in their messages, and the codes stay where those messages left
them, on orders and on warehouse evidence (also evidence about orders orderhub does not know). Reading the
distinct codes of a million orders row by row takes a DISTINCT over every index entry; a loose index scan asks
the index for the next code after the last one instead, one probe per warehouse, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, union
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.fulfilment.models import ExceptionState, FulfilmentEvidence, OrderException
from domain.orders.models import Order


@dataclass(frozen=True)
class Warehouse:
    code: str
    open_exceptions: int


def case_warehouse() -> ColumnElement[Any]:
    """An exception's warehouse: its order's, else the warehouse whose evidence opened it (a scan of an order
    orderhub does not know belongs to the floor that scanned it). The queue's filter and the counts per
    warehouse both read this one expression, so a count and the cases it promises cannot disagree."""
    return func.coalesce(col(Order.warehouse_code), col(FulfilmentEvidence.warehouse_code))


def with_case_warehouse(query: Any) -> Any:
    """The joins `case_warehouse` reads, from exceptions (few) to their order and evidence by key."""
    return query.outerjoin(Order, col(Order.id) == col(OrderException.order_id)).outerjoin(
        FulfilmentEvidence, col(FulfilmentEvidence.id) == col(OrderException.evidence_id)
    )


def _codes_after(column: Any, name: str, after: str, limit: int) -> Any:
    """Up to `limit` codes of one column after `after`, in order: each step is one `min(...) > previous`, which
    both databases answer from the column's index without reading the rows between two codes."""

    def next_code(bound: Any) -> Any:
        return select(func.min(column)).where(column > bound).scalar_subquery()

    codes = select(next_code(literal(after)).label("code"), literal(1).label("n")).cte(name, recursive=True)
    step = select(next_code(codes.c.code), codes.c.n + 1).where(codes.c.code.is_not(None), codes.c.n < limit)
    return codes.union_all(step)


async def seen_warehouses(session: AsyncSession, first: int, after: str | None) -> tuple[list[Warehouse], bool]:
    """Every warehouse code an order or warehouse evidence named, in code order after `after`, with the open
    exceptions each holds; the bool says whether more follow. An empty code names no warehouse."""
    wanted = first + 1
    on_orders = _codes_after(col(Order.warehouse_code), "order_codes", after or "", wanted)
    on_evidence = _codes_after(col(FulfilmentEvidence.warehouse_code), "evidence_codes", after or "", wanted)
    both = union(
        select(on_orders.c.code).where(on_orders.c.code.is_not(None)),
        select(on_evidence.c.code).where(on_evidence.c.code.is_not(None)),
    ).subquery()
    found = select(both.c.code).order_by(both.c.code).limit(wanted)
    codes = [str(code) for code in (await session.execute(found)).scalars().all()]
    page = codes[:first]
    counts = await open_exceptions_at(session, page)
    return [Warehouse(code, counts.get(code, 0)) for code in page], len(codes) > first


async def open_exceptions_at(session: AsyncSession, codes: Sequence[str]) -> dict[str, int]:
    """Open cases per warehouse, for the codes given; one grouped query over the open exceptions."""
    if not codes:
        return {}
    where = case_warehouse()
    query = with_case_warehouse(select(where, func.count()).select_from(OrderException)).where(
        col(OrderException.state) == ExceptionState.OPEN.value, where.in_(list(codes))
    )
    rows = (await session.execute(query.group_by(where))).all()
    return {str(code): int(count) for code, count in rows}


async def warehouses_of_cases(session: AsyncSession, exception_ids: Sequence[int]) -> dict[int, str | None]:
    """Each exception's warehouse (`case_warehouse`), for a page of cases in one query."""
    if not exception_ids:
        return {}
    query = with_case_warehouse(select(col(OrderException.id), case_warehouse()).select_from(OrderException))
    rows = (await session.execute(query.where(col(OrderException.id).in_(list(exception_ids))))).all()
    return {int(key): code for key, code in rows}
