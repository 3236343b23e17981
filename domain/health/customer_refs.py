"""What ERP, CRM and WMS call an order's customer: one reported id (and grade) per order and system.

A repeat of the same report is counted, not stored twice; a system that corrects itself overwrites its own
earlier value. The health metric then compares the systems with one another.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, distinct, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.health.errors import HealthErrorCode
from domain.health.models import ExternalSystem, OrderCustomerRef
from domain.i18n import msg
from domain.orders.channels import parse_channel
from domain.orders.models import Order
from domain.sql import insert_ignore

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class CustomerReport:
    system: ExternalSystem
    customer_id: str
    customer_grade: str | None


@dataclass(frozen=True)
class Reported:
    order_id: int
    repeated: bool
    changed: bool


def validate_report(
    system: str, customer_id: str | None, grade: str | None, at: Path, problems: Problems
) -> CustomerReport | None:
    start = len(problems.items)
    try:
        parsed = ExternalSystem(system.strip().upper())
    except ValueError:
        problems.add(
            (*at, "system"),
            msg("unknown system {system}; one of {known}", system=repr(system), known=", ".join(ExternalSystem)),
            HealthErrorCode.INVALID_VALUE,
        )
    cleaned = (customer_id or "").strip()
    if not cleaned:
        problems.add((*at, "customer_id"), msg("customer id is required"), HealthErrorCode.REQUIRED)
    elif len(cleaned) > 100:
        problems.add((*at, "customer_id"), msg("customer id is longer than 100 characters"), HealthErrorCode.TOO_LONG)
    cleaned_grade = (grade or "").strip() or None
    if cleaned_grade is not None and len(cleaned_grade) > 40:
        problems.add(
            (*at, "customer_grade"), msg("customer grade is longer than 40 characters"), HealthErrorCode.TOO_LONG
        )
    if len(problems.items) > start:
        return None
    return CustomerReport(parsed, cleaned, cleaned_grade)


async def find_order(
    session: AsyncSession, channel: str | None, channel_order_id: str, served: frozenset[str] | None = None
) -> Order:
    """Partners know the order by its channel order id; the channel narrows it when two channels share one.
    `served`: the channels the caller's key is bound to; another channel's order is not found."""
    query = select(Order).where(Order.channel_order_id == channel_order_id.strip())
    if served is not None:
        query = query.where(col(Order.channel).in_(sorted(served)))
    if channel:
        known = parse_channel(channel)
        if known is None:
            raise UserError.one(
                ("channel",), msg("unknown channel {channel}", channel=repr(channel)), HealthErrorCode.UNKNOWN_CHANNEL
            )
        query = query.where(Order.channel == known.value)
    rows = list((await session.exec(query.order_by(col(Order.id)).limit(2))).all())
    if not rows:
        raise UserError.one(
            ("channel_order_id",),
            msg("no order {channel_order_id}", channel_order_id=repr(channel_order_id)),
            HealthErrorCode.NOT_FOUND,
        )
    if len(rows) > 1:
        raise UserError.one(
            ("channel",),
            msg("{channel_order_id} is known on several channels: name one", channel_order_id=repr(channel_order_id)),
            HealthErrorCode.AMBIGUOUS_ORDER,
        )
    return rows[0]


async def record_customer_ref(session: AsyncSession, order_id: int, report: CustomerReport, by: str) -> Reported:
    """Idempotent on (order, system): the same values again only count a repeat. The order keeps how many systems
    reported and whether they disagree, in the same transaction, so the metric is one scan of orders."""
    reported = await _upsert(session, order_id, report, by)
    if reported.changed:
        refs = OrderCustomerRef.__table__  # type: ignore[attr-defined]
        mine = select(func.count()).select_from(refs).where(refs.c.order_id == order_id).scalar_subquery()
        ids = select(func.count(distinct(refs.c.customer_id))).where(refs.c.order_id == order_id).scalar_subquery()
        differ = case((ids > 1, 1), else_=0)
        await session.exec(
            update(Order).where(col(Order.id) == order_id).values(customer_refs=mine, customer_ids_differ=differ)
        )
    return reported


async def _upsert(session: AsyncSession, order_id: int, report: CustomerReport, by: str) -> Reported:
    now = utcnow()
    values = {
        "order_id": order_id, "system": report.system.value, "customer_id": report.customer_id,
        "customer_grade": report.customer_grade, "reported_by": by, "reported_at": now, "updated_at": now,
        "reports": 1,
    }  # fmt: skip
    if await insert_ignore(session, OrderCustomerRef, values, ("order_id", "system")) is not None:
        return Reported(order_id, False, True)
    table = OrderCustomerRef
    key = (col(table.order_id) == order_id, col(table.system) == report.system.value)
    same = (col(table.customer_id) == report.customer_id) & (
        col(table.customer_grade).is_(None)
        if report.customer_grade is None
        else col(table.customer_grade) == report.customer_grade
    )
    repeat = await session.exec(update(table).where(*key, same).values(reports=table.reports + 1))
    if repeat.rowcount:
        return Reported(order_id, True, False)
    await session.exec(
        update(table)
        .where(*key)
        .values(
            customer_id=report.customer_id, customer_grade=report.customer_grade, reported_by=by, updated_at=now,
            reports=table.reports + 1,
        )
    )  # fmt: skip
    return Reported(order_id, False, True)


async def refs_of(session: AsyncSession, order_ids: list[int]) -> dict[int, list[OrderCustomerRef]]:
    found: dict[int, list[OrderCustomerRef]] = {i: [] for i in order_ids}
    if not order_ids:
        return found
    query = select(OrderCustomerRef).where(col(OrderCustomerRef.order_id).in_(order_ids))
    for row in (await session.exec(query.order_by(col(OrderCustomerRef.system)))).all():
        found[row.order_id].append(row)
    return found


def differing_systems(refs: list[OrderCustomerRef]) -> list[str]:
    """The systems that disagree with the majority; on a tie, with the first of ERP, CRM, WMS that reported."""
    if len({r.customer_id for r in refs}) < 2:
        return []
    order = list(ExternalSystem)
    ranked = sorted(refs, key=lambda r: order.index(ExternalSystem(r.system)))
    counts: dict[str, int] = {}
    for r in ranked:
        counts[r.customer_id] = counts.get(r.customer_id, 0) + 1
    reference = max(
        counts, key=lambda cid: (counts[cid], -next(i for i, r in enumerate(ranked) if r.customer_id == cid))
    )
    return [r.system for r in ranked if r.customer_id != reference]
