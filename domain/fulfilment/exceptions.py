"""Order exceptions: opened by evidence that broke a rule or by an order that stopped moving, closed by a person.

Each opening and resolution is published on the `exceptions` topic after commit, for staff dashboards. A summary
written as a message is kept twice: its English in `summary` (exports, webhooks, logs) and its key and parameters
in `details["summary"]`, from which each reader gets it in their own language (`summary_of`); so is a resolution
orderhub writes itself (`details["resolution"]`, `resolution_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.models import StaffUser
from domain.access.policy import Role
from domain.clock import utcnow
from domain.errors import UserError
from domain.fulfilment.errors import FulfilmentErrorCode
from domain.fulfilment.models import ExceptionKind, ExceptionState, OrderException
from domain.fulfilment.warehouses import case_warehouse, with_case_warehouse
from domain.health.metrics import CLOSURE_WINDOW
from domain.i18n import Message, msg
from domain.i18n.stored import render_stored, stored
from domain.orders.models import Order
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import EventType, OrderStatus, Source
from domain.outbox.service import Outbox
from domain.sql import dialect, insert_ignore

EXCEPTION_TOPIC = "exceptions"
WAITING_FOR_OUTBOUND = (
    OrderStatus.SHIP_REQUESTED,
    OrderStatus.PICKED,
    OrderStatus.PACKED,
    OrderStatus.PARTIALLY_SHIPPED,
)
"""Asked to ship and not all out: a partly shipped order whose other warehouse never ships is stuck too."""
HANDLER_ROLES = (Role.ADMIN, Role.OPS, Role.CS)
"""The roles that may take and close a case; the API allows the same ones."""


def close_by(row: OrderException) -> datetime:
    """The exception-closure metric counts a case closed in time only within this window of its opening, so the
    queue shows each case's deadline rather than leaving people to add 72 hours in their heads."""
    return row.opened_at + CLOSURE_WINDOW


SUMMARY_KEY = "summary"
RESOLUTION_KEY = "resolution"


def summary_of(row: OrderException) -> str:
    """The summary in the language of the work at hand; as written for a summary kept as text only."""
    return render_stored((row.details or {}).get(SUMMARY_KEY), row.summary)


def resolution_of(row: OrderException) -> str | None:
    """How the case was closed: a person's words as typed, orderhub's in the language of the work at hand."""
    if row.resolution is None:
        return None
    return render_stored((row.details or {}).get(RESOLUTION_KEY), row.resolution)


def publish_exception(outbox: Outbox, row: OrderException) -> None:
    outbox.publish(
        EXCEPTION_TOPIC,
        {
            "event_id": f"exception:{row.id}:{row.state}",
            "exception_id": row.id,
            "order_id": row.order_id,
            "kind": row.kind,
            "state": row.state,
            "opened_at": row.opened_at.isoformat(),
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
            "issued_at": utcnow().isoformat(),
        },
    )


async def open_exception(
    session: AsyncSession,
    outbox: Outbox,
    kind: ExceptionKind,
    summary: Message | str,
    *,
    order_id: int | None,
    evidence_id: int | None = None,
    details: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> int | None:
    """Returns the new exception's id, or None when one with the same dedup key already exists."""
    values: dict[str, Any] = {
        "kind": kind.value,
        "state": ExceptionState.OPEN.value,
        "order_id": order_id,
        "evidence_id": evidence_id,
        "dedup_key": dedup_key,
        "summary": str(summary),
        "opened_at": utcnow(),
        "details": {**(details or {}), **({SUMMARY_KEY: stored(summary)} if isinstance(summary, Message) else {})},
    }
    if dedup_key is not None:
        new_id = await insert_ignore(session, OrderException, values, ("dedup_key",))
        if new_id is None:
            return None
        row = OrderException(id=new_id, **values)
    else:
        row = OrderException(**values)
        session.add(row)
        await session.flush()
    publish_exception(outbox, row)
    return row.id


async def committed_exception(
    session: AsyncSession, exception_id: int, kind: object, order_id: object, state: object
) -> OrderException | None:
    """The exception a pushed envelope describes, if this database committed it as described: pub/sub
    channels are shared by everything on that Redis, so an envelope is a hint, not a fact. An OPEN
    envelope for an exception resolved since is a late one and still true of its moment."""
    row = await session.get(OrderException, exception_id)
    if row is None or row.kind != kind or row.order_id != order_id:
        return None
    if state == ExceptionState.RESOLVED.value:
        return row if row.state == ExceptionState.RESOLVED.value else None
    return row if state == ExceptionState.OPEN.value else None


async def exceptions_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderException]]:
    """Per order, every exception opened on it, open or resolved, newest first: the order page shows its history
    of cases, not only the queue's open ones. One query for a page of orders."""
    found: dict[int, list[OrderException]] = {i: [] for i in order_ids}
    query = (
        select(OrderException)
        .where(col(OrderException.order_id).in_(order_ids))
        .order_by(col(OrderException.id).desc())
    )
    for row in (await session.exec(query)).all():
        if row.order_id is not None:
            found[row.order_id].append(row)
    return found


async def _locked(session: AsyncSession, exception_id: int) -> OrderException:
    row = await session.get(OrderException, exception_id, with_for_update=dialect(session) == "postgresql")
    if row is None:
        raise UserError.one(
            ("exception_id",),
            msg("no exception {exception_id}", exception_id=exception_id),
            FulfilmentErrorCode.NOT_FOUND,
        )
    return row


async def assign_exception(session: AsyncSession, exception_id: int, assignee: str) -> OrderException:
    row = await _locked(session, exception_id)
    if row.state != ExceptionState.OPEN:
        raise UserError.one(
            ("exception_id",), msg("the exception is already resolved"), FulfilmentErrorCode.ALREADY_RESOLVED
        )
    if not assignee.strip():
        raise UserError.one(("assignee",), msg("say who takes it"), FulfilmentErrorCode.REQUIRED)
    now = utcnow()
    await session.exec(
        update(OrderException)
        .where(col(OrderException.id) == exception_id)
        .values(assigned_to=assignee.strip(), assigned_at=now)
    )
    row.assigned_to, row.assigned_at = assignee.strip(), now
    return row


async def resolve_exception(
    session: AsyncSession, outbox: Outbox, exception_id: int, resolver: str, resolution: Message | str
) -> OrderException:
    """Closes the case and notes it on the order's log; the order's status is never touched here. A resolution
    a person typed is kept as typed; one orderhub wrote (a re-attached payment) is kept as a sentence too."""
    if not str(resolution).strip():
        raise UserError.one(("resolution",), msg("say how it was resolved"), FulfilmentErrorCode.REQUIRED)
    row = await _locked(session, exception_id)
    if row.state != ExceptionState.OPEN:
        raise UserError.one(
            ("exception_id",), msg("the exception is already resolved"), FulfilmentErrorCode.ALREADY_RESOLVED
        )
    now = utcnow()
    values: dict[str, Any] = {
        "state": ExceptionState.RESOLVED.value,
        "resolved_at": now,
        "resolver": resolver,
        "resolution": str(resolution).strip(),
        "dedup_key": None,  # a later recurrence of the same problem opens a fresh case
    }
    if isinstance(resolution, Message):
        values["details"] = {**(row.details or {}), RESOLUTION_KEY: stored(resolution)}
    await session.exec(update(OrderException).where(col(OrderException.id) == exception_id).values(**values))
    for name, value in values.items():
        setattr(row, name, value)
    if row.order_id is not None:
        order = await session.get(Order, row.order_id, with_for_update=dialect(session) == "postgresql")
        assert order is not None
        change = Change(
            EventType.EXCEPTION_RESOLVED,
            OrderStatus(order.status),
            now,
            {"exception_id": row.id, "kind": row.kind, "resolution": row.resolution},
        )
        await append_event(session, outbox, order, change, Provenance(Source.STAFF, resolver))
        await save_order(session, order, {})
    publish_exception(outbox, row)
    await outbox.flush(session)
    return row


async def open_stuck_exceptions(session: AsyncSession, outbox: Outbox, threshold: timedelta, now: datetime) -> int:
    """Orders asked to ship longer ago than the threshold with no outbound yet; one open case per order."""
    query = (
        select(Order)
        .where(
            col(Order.status).in_([s.value for s in WAITING_FOR_OUTBOUND]),
            col(Order.ship_requested_at) < now - threshold,
            col(Order.shipped_at).is_(None),
        )
        .order_by(col(Order.id))
    )
    opened = 0
    for order in (await session.exec(query)).all():
        assert order.id is not None and order.ship_requested_at is not None
        waited = now - order.ship_requested_at
        place = ", ".join(p for p in (order.warehouse_code, order.current_zone, order.current_station) if p)
        hours = int(waited.total_seconds() // 3600)
        exception_id = await open_exception(
            session,
            outbox,
            ExceptionKind.STUCK_AFTER_SHIP_REQUEST,
            msg("no outbound {hours} h after the ship request, at {place}", hours=hours, place=place)
            if place
            else msg("no outbound {hours} h after the ship request", hours=hours),
            order_id=order.id,
            details={"status": order.status, "ship_requested_at": order.ship_requested_at.isoformat()},
            dedup_key=f"stuck:{order.id}",
        )
        if exception_id is None:
            continue
        opened += 1
        change = Change(
            EventType.EXCEPTION_OPENED,
            OrderStatus(order.status),
            now,
            {"exception_id": exception_id, "kind": ExceptionKind.STUCK_AFTER_SHIP_REQUEST.value},
        )
        await append_event(session, outbox, order, change, Provenance(Source.SYSTEM, "system:stuck-shipments"))
        await save_order(session, order, {})
    await outbox.flush(session)
    return opened


@dataclass(frozen=True)
class ExceptionFilter:
    states: Sequence[str] = ()
    kinds: Sequence[str] = ()
    order_id: int | None = None
    assigned_to: str | None = None
    unassigned: bool = False
    opened_after: datetime | None = None
    opened_before: datetime | None = None
    warehouse_code: str | None = None
    """The case's warehouse: its order's, else the one whose evidence opened it (`case_warehouse`)."""


async def list_exceptions(
    session: AsyncSession, filters: ExceptionFilter, first: int, after: int | None
) -> tuple[list[OrderException], bool]:
    """Newest first, keyset on id."""
    query = select(OrderException)
    if filters.states:
        query = query.where(col(OrderException.state).in_(filters.states))
    if filters.kinds:
        query = query.where(col(OrderException.kind).in_(filters.kinds))
    if filters.order_id is not None:
        query = query.where(OrderException.order_id == filters.order_id)
    if filters.assigned_to is not None:
        query = query.where(OrderException.assigned_to == filters.assigned_to)
    if filters.unassigned:
        query = query.where(col(OrderException.assigned_to).is_(None))
    if filters.opened_after is not None:
        query = query.where(col(OrderException.opened_at) >= filters.opened_after)
    if filters.opened_before is not None:
        query = query.where(col(OrderException.opened_at) < filters.opened_before)
    if filters.warehouse_code is not None:
        query = with_case_warehouse(query).where(case_warehouse() == filters.warehouse_code)
    if after is not None:
        query = query.where(col(OrderException.id) < after)
    rows = list((await session.exec(query.order_by(col(OrderException.id).desc()).limit(first + 1))).all())
    return rows[:first], len(rows) > first


async def exception_handlers(session: AsyncSession) -> list[str]:
    """The active staff accounts a case may be assigned to, as `assignedTo` names them (`staff:<email>`), by
    email. Roles are a JSON list, so they are read here rather than filtered in SQL the same way on both
    databases."""
    query = select(StaffUser).where(col(StaffUser.disabled_at).is_(None)).order_by(col(StaffUser.email))
    handlers = {r.value for r in HANDLER_ROLES}
    return [f"staff:{u.email}" for u in (await session.exec(query)).all() if handlers & set(u.roles)]
