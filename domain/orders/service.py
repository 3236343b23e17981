"""Apply submitted orders: one projection row, its lines, its events and its outbox rows, together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problem, UserError
from domain.i18n import msg
from domain.identity.service import (
    BuyerIdentity,
    BuyerKey,
    Sighting,
    record_sightings,
    redirect_merged,
    resolve_buyers,
)
from domain.intake.vault import Vault
from domain.invoices import store as invoices
from domain.orders.commands import CanonicalOrder
from domain.orders.errors import OrderErrorCode
from domain.orders.models import Order, OrderEvent, OrderLine, OrderSupersession
from domain.orders.status import (
    MOVES,
    STAGE_BITS,
    EventType,
    OrderStatus,
    Source,
    TransitionRefused,
    decide,
    minimum_changes,
    rank,
)
from domain.outbox.service import Outbox
from domain.push.service import PUSHED_EVENTS, schedule_push
from domain.sql import dialect, take_sqlite_write_lock

ORDER_TOPIC = "orders"
PAYMENT_DEADLINE_JOB = "check_payment_deadline"


@dataclass(frozen=True)
class Provenance:
    source: Source
    actor: str
    inbound_message_id: int | None = None
    channels: frozenset[str] | None = None
    """The sales channels the actor may write to (a partner key's binding); None: every channel."""


@dataclass(frozen=True)
class Applied:
    order_id: int
    created: bool
    changed: bool
    row: Order
    """The order as stored now: a created one as its INSERT returned it, an existing one as read under its
    lock and changed here (`save_order` keeps the row in step with what it writes)."""


@dataclass
class Change:
    event: EventType
    status: OrderStatus
    occurred_at: datetime
    data: dict[str, Any]


def _check_channels(orders: Sequence[CanonicalOrder], each: Sequence[Provenance]) -> None:
    """A key serving one channel must not create, pay or cancel another channel's orders."""
    problems = [
        Problem(
            (index, "channel"),
            msg(
                "this API key serves {served}, not {channel}",
                served=", ".join(sorted(by.channels)) or msg("no channel"),
                channel=order.channel,
            ),
            OrderErrorCode.CHANNEL_NOT_ALLOWED,
        )
        for index, (order, by) in enumerate(zip(orders, each, strict=True))
        if by.channels is not None and order.channel not in by.channels
    ]
    if problems:
        raise UserError(problems)


class OrderService:
    """Stateless apart from its collaborators; the caller owns the session and commits."""

    def __init__(
        self,
        session: AsyncSession,
        identity: BuyerIdentity,
        outbox: Outbox,
        payment_deadline_s: int,
        vault: Vault | None = None,
    ) -> None:
        self.session = session
        self.identity = identity
        self.outbox = outbox
        self.payment_deadline_s = payment_deadline_s
        self.vault = vault  # seals invoice requests; an order carrying one without it is our bug, not the sender's

    async def submit(self, orders: Sequence[CanonicalOrder], by: Provenance | Sequence[Provenance]) -> list[Applied]:
        """Idempotent on (channel, channel order id): a repeat changes nothing. `by` may name each order's own
        provenance (a batch of recorded messages), else one provenance covers them all."""
        each = [by] * len(orders) if isinstance(by, Provenance) else list(by)
        _check_channels(orders, each)
        by_key = {(o.channel, o.channel_order_id): own for o, own in zip(orders, each, strict=True)}
        existing = await self._load_existing(orders)
        fresh = [o for o in orders if (o.channel, o.channel_order_id) not in existing]
        created = await self._insert_new(fresh, by_key)
        results: dict[tuple[str, str], Applied] = {}
        for key, row in created.items():
            assert row.id is not None
            results[key] = Applied(row.id, True, True, row)
        late = [o for o in fresh if (o.channel, o.channel_order_id) not in created]
        if late:  # another process created them between our read and our insert
            existing.update(await self._load_existing(late))
        for index, order in enumerate(orders):
            key = (order.channel, order.channel_order_id)
            if key in results:
                continue
            row = await self._successor(existing[key])
            changed = await self._update_existing(row, order, each[index], (index,))
            assert row.id is not None
            results[key] = Applied(row.id, False, changed, row)
        asked = [(results[(o.channel, o.channel_order_id)].order_id, o.invoice) for o in orders if o.invoice]
        if asked:
            if self.vault is None:
                raise RuntimeError("invoice requests arrived but the order service has no vault to seal them")
            await invoices.record(self.session, self.vault, self.identity.current.secret, asked)
        await self.outbox.flush(self.session)
        return [results[(o.channel, o.channel_order_id)] for o in orders]

    async def _load_existing(self, orders: Iterable[CanonicalOrder]) -> dict[tuple[str, str], Order]:
        by_channel: dict[str, list[str]] = {}
        for order in orders:
            by_channel.setdefault(order.channel, []).append(order.channel_order_id)
        found: dict[tuple[str, str], Order] = {}
        for channel, ids in by_channel.items():
            query = select(Order).where(Order.channel == channel, col(Order.channel_order_id).in_(ids))
            if dialect(self.session) == "postgresql":
                query = query.with_for_update()
            for row in (await self.session.exec(query)).all():
                found[(row.channel, row.channel_order_id)] = row
        return found

    async def _successor(self, row: Order) -> Order:
        """A snapshot under a superseded order's number (the upstream fault lasting beyond the replayed window)
        applies to the order of the same sale under its right number."""
        while row.status == OrderStatus.VOID:
            query = select(Order).join(OrderSupersession, col(OrderSupersession.new_order_id) == Order.id)
            query = query.where(OrderSupersession.old_order_id == row.id)
            if dialect(self.session) == "postgresql":
                query = query.with_for_update(of=Order)
            successor = (await self.session.exec(query)).first()
            if successor is None:
                break
            row = successor
        return row

    async def _insert_new(
        self, orders: list[CanonicalOrder], by: dict[tuple[str, str], Provenance]
    ) -> dict[tuple[str, str], Order]:
        unique = list({(o.channel, o.channel_order_id): o for o in orders}.values())
        if not unique:
            return {}
        now = utcnow()
        histories = {(o.channel, o.channel_order_id): _creation_history(o) for o in unique}
        buyers = await resolve_buyers(self.session, self.identity, unique)
        keys = [(o.channel, o.channel_order_id) for o in unique]
        rows = [self._order_row(o, histories[k], now, buyers[k]) for o, k in zip(unique, keys, strict=True)]
        insert_fn = pg_insert if dialect(self.session) == "postgresql" else sqlite_insert
        # executemany with RETURNING: one cached statement, batched by SQLAlchemy's insertmanyvalues; the
        # rows come back whole, so the caller answers with them without reading them again. render_nulls keeps
        # the ORM from splitting the batch by which columns are null.
        statement = (
            insert_fn(Order)
            .on_conflict_do_nothing(index_elements=["channel", "channel_order_id"])
            .returning(Order)
            .execution_options(render_nulls=True)
        )
        inserted = {(r.channel, r.channel_order_id): r for r in await self.session.scalars(statement, rows)}
        created = {key: int(row.id) for key, row in inserted.items() if row.id is not None}
        buyer_uids = {(r["channel"], r["channel_order_id"]): r["buyer_uid"] for r in rows}
        lines: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for order in unique:
            key = (order.channel, order.channel_order_id)
            if key not in created:
                continue
            order_id = created[key]
            lines.extend(_line_row(order_id, line) for line in order.lines)
            for version, change in enumerate(histories[key], start=1):
                events.append(_event_row(order_id, version, change, by[key], now))
            final = histories[key][-1]
            publish_change(
                self.outbox, order_id, len(histories[key]), final.status, buyer_uids[key], order.warehouse_code,
                final.event,
            )  # fmt: skip
            if final.status is OrderStatus.PENDING_PAYMENT:
                self.outbox.enqueue(
                    PAYMENT_DEADLINE_JOB, {"order_id": order_id}, defer_seconds=self._until_deadline(order, now)
                )
        # on the tables, not the models: plain executemany INSERTs, without the ORM's bulk path per statement
        if lines:
            await self.session.execute(insert(OrderLine.__table__), lines)  # type: ignore[attr-defined]
        if events:
            await self.session.execute(insert(OrderEvent.__table__), events)  # type: ignore[attr-defined]
        sightings = [
            Sighting(o, created[k], buyers[k], histories[k][-1].status is OrderStatus.PENDING_PAYMENT)
            for o in unique
            if (k := (o.channel, o.channel_order_id)) in created
        ]
        await record_sightings(self.session, self.identity, self.outbox, sightings)
        return inserted

    def _until_deadline(self, order: CanonicalOrder, now: datetime) -> int:
        """The deadline runs from placement, not from when orderhub heard of the order."""
        due = order.placed_at + timedelta(seconds=self.payment_deadline_s)
        return max(0, int((due - now).total_seconds()))

    def _order_row(
        self, order: CanonicalOrder, history: list[Change], now: datetime, buyer: BuyerKey
    ) -> dict[str, Any]:
        return {
            "channel": order.channel,
            "channel_order_id": order.channel_order_id,
            "status": history[-1].status.value,
            "raw_status": order.raw_status,
            "buyer_uid": buyer.uid,
            "buyer_key_version": buyer.key_version,
            "buyer_key_problem": buyer.problem,
            "platform_buyer_id": order.platform_buyer_id,
            "currency": order.currency,
            "items_amount": order.items_amount,
            "shipping_amount": order.shipping_amount,
            "discount_amount": order.discount_amount,
            "total_amount": order.total_amount,
            "warehouse_code": order.warehouse_code,
            "shop_code": order.shop_code,
            "utm_source": order.attribution.utm_source,
            "utm_medium": order.attribution.utm_medium,
            "utm_campaign": order.attribution.utm_campaign,
            "landing_url": order.attribution.landing_url,
            "placed_at": order.placed_at,
            "paid_at": order.paid_at,
            "cancelled_at": order.cancelled_at if order.status is OrderStatus.CANCELLED else None,
            "version": len(history),
            "status_changes": len(history) - 1,
            "min_status_changes": minimum_changes(history[0].status, history[-1].status, 0),
            "stages_entered": 0,
            "created_at": now,
            "updated_at": now,
        }

    async def _update_existing(
        self, row: Order, order: CanonicalOrder, by: Provenance, at: tuple[str | int, ...]
    ) -> bool:
        stored = _stored_content(row, await self._lines(row))
        if stored != order.content():
            if row.status != OrderStatus.PENDING_PAYMENT:
                raise UserError.one(
                    (*at, "channel_order_id"),
                    msg(
                        "order {channel}/{channel_order_id} is {status}: its amounts and lines are final",
                        channel=order.channel,
                        channel_order_id=order.channel_order_id,
                        status=row.status,
                    ),
                    OrderErrorCode.ORDER_LOCKED,
                )
            await self._amend(row, order, by)
        if row.status == OrderStatus.MERGED:  # identity: a grouped duplicate's payment pays its parent
            parent = await redirect_merged(self.session, row, order.status.value)
            if parent is None:
                return stored != order.content()
            row = parent
        target = order.status
        current = OrderStatus(row.status)
        if target is current or (target is not OrderStatus.CANCELLED and rank(target) < rank(current)):
            return stored != order.content()  # a repeat, or an older snapshot arriving late
        event = EventType.ORDER_PAID if target is OrderStatus.PAID else EventType.ORDER_CANCELLED
        moment = order.paid_at if target is OrderStatus.PAID else order.cancelled_at
        assert moment is not None
        try:
            await move_order(
                self.session, self.outbox, row, event, moment, by, {"raw_status": order.raw_status},
                {"raw_status": order.raw_status},
            )  # fmt: skip
        except TransitionRefused as refused:
            raise UserError.one((*at, "status"), refused.message, refused.code) from refused
        return True

    async def _amend(self, row: Order, order: CanonicalOrder, by: Provenance) -> None:
        assert row.id is not None
        await self.session.exec(
            OrderLine.__table__.delete().where(OrderLine.__table__.c.order_id == row.id)  # type: ignore[attr-defined]
        )
        await self.session.execute(insert(OrderLine), [_line_row(row.id, line) for line in order.lines])
        change = Change(
            EventType.ORDER_AMENDED,
            OrderStatus(row.status),
            utcnow(),
            {"before": row.total_amount, "after": order.total_amount},
        )
        await append_event(self.session, self.outbox, row, change, by)
        await save_order(
            self.session,
            row,
            {
                "items_amount": order.items_amount,
                "shipping_amount": order.shipping_amount,
                "discount_amount": order.discount_amount,
                "total_amount": order.total_amount,
            },
        )

    async def _lines(self, row: Order) -> list[OrderLine]:
        query = select(OrderLine).where(OrderLine.order_id == row.id).order_by(col(OrderLine.line_no))
        return list((await self.session.exec(query)).all())


_MOMENT_COLUMNS = {EventType.ORDER_PAID: "paid_at", EventType.ORDER_CANCELLED: "cancelled_at"}


async def move_order(
    session: AsyncSession,
    outbox: Outbox,
    row: Order,
    event: EventType,
    moment: datetime,
    by: Provenance,
    data: dict[str, Any],
    values: dict[str, Any] | None = None,
) -> OrderStatus:
    """The one way a channel's report or a posted payment pays or cancels an order: the state machine decides
    (raising TransitionRefused), the log and the push follow, and the moment lands in its column."""
    new_status = decide(OrderStatus(row.status), event, by.source)
    await append_event(session, outbox, row, Change(event, new_status, moment, data), by)
    await save_order(session, row, {**(values or {}), "status": new_status.value, _MOMENT_COLUMNS[event]: moment})
    return new_status


async def flag_overdue_payment(session: AsyncSession, outbox: Outbox, order_id: int) -> bool:
    """Record once that a pending order passed its payment deadline; repeats change nothing."""
    await take_sqlite_write_lock(session)  # identity: the grouping job may change this order at the same moment
    row = await session.get(Order, order_id, with_for_update=dialect(session) == "postgresql")
    if row is None or row.status != OrderStatus.PENDING_PAYMENT:
        return False
    seen = await session.exec(
        select(OrderEvent.id).where(OrderEvent.order_id == order_id, OrderEvent.type == EventType.PAYMENT_OVERDUE)
    )
    if seen.first() is not None:
        return False
    change = Change(EventType.PAYMENT_OVERDUE, OrderStatus.PENDING_PAYMENT, utcnow(), {})
    await append_event(session, outbox, row, change, Provenance(Source.SYSTEM, "system:payment-deadline"))
    await save_order(session, row, {})
    await outbox.flush(session)
    return True


async def append_event(session: AsyncSession, outbox: Outbox, row: Order, change: Change, by: Provenance) -> None:
    """Every change of an order is one event at the next version, and one push after commit."""
    assert row.id is not None
    counters = {"version": row.version + 1}
    if change.event in MOVES:  # counted here, where every change passes, so health reads them without the log
        stages = row.stages_entered | STAGE_BITS.get(change.status, 0)
        counters |= {"status_changes": row.status_changes + 1, "stages_entered": stages,
                     "min_status_changes": minimum_changes(CREATED, change.status, stages)}  # fmt: skip
    _keep(row, counters)  # written by save_order, which every change calls next
    await session.execute(insert(OrderEvent), [_event_row(row.id, row.version, change, by, utcnow())])
    # a move to another stage makes the stored prediction stale until the prediction job replaces it
    predicted = row.predicted_next_at if change.status.value == row.status else None
    publish_change(
        outbox, row.id, row.version, change.status, row.buyer_uid, row.warehouse_code, change.event, predicted
    )
    if change.event in PUSHED_EVENTS and row.buyer_uid is not None:  # the buyer's app hears of it, even closed
        schedule_push(outbox, row.id, row.version, PUSHED_EVENTS[change.event])


async def save_order(session: AsyncSession, row: Order, values: dict[str, Any]) -> None:
    values = {
        **values, "version": row.version, "updated_at": utcnow(), "status_changes": row.status_changes,
        "min_status_changes": row.min_status_changes, "stages_entered": row.stages_entered,
    }  # fmt: skip
    await session.exec(update(Order).where(col(Order.id) == row.id).values(**values))
    _keep(row, values)


def _keep(row: Order, values: dict[str, Any]) -> None:
    """The row object follows what was written, as the database holds it: set as committed, not as a change
    of the ORM's to flush, which would write the same values again in an UPDATE of its own."""
    for name, value in values.items():
        set_committed_value(row, name, value)


def publish_change(
    outbox: Outbox,
    order_id: int,
    version: int,
    status: OrderStatus,
    buyer_uid: str | None,
    warehouse_code: str | None = None,
    event_type: EventType | None = None,
    predicted_next_at: datetime | None = None,
) -> None:
    """The envelope subscribers receive; `predicted_next_at` is the stored prediction after this change.

    `event_type` lets a subscriber skip log entries that leave the status as it was (evidence notes).
    """
    outbox.publish(
        ORDER_TOPIC,
        {
            "event_id": f"{order_id}:{version}",
            "order_id": order_id,
            "version": version,
            "status": status.value,
            "buyer_uid": buyer_uid,
            "warehouse_code": warehouse_code,
            "predicted_next_at": None if predicted_next_at is None else predicted_next_at.isoformat(),
            "event_type": None if event_type is None else event_type.value,
            "issued_at": utcnow().isoformat(),
        },
    )


CREATED = OrderStatus.PENDING_PAYMENT
"""Every order's first status: its log opens with ORDER_PLACED (here, or a group parent's in identity)."""


def _creation_history(order: CanonicalOrder) -> list[Change]:
    history = [Change(EventType.ORDER_PLACED, CREATED, order.placed_at, {"raw_status": order.raw_status})]
    if order.paid_at is not None and order.status is not OrderStatus.PENDING_PAYMENT:
        history.append(
            Change(
                EventType.ORDER_PAID,
                decide(OrderStatus.PENDING_PAYMENT, EventType.ORDER_PAID, Source.CHANNEL),
                order.paid_at,
                {},
            )
        )
    if order.status is OrderStatus.CANCELLED:
        assert order.cancelled_at is not None
        status = decide(history[-1].status, EventType.ORDER_CANCELLED, Source.CHANNEL)
        history.append(Change(EventType.ORDER_CANCELLED, status, order.cancelled_at, {}))
    return history


def _line_row(order_id: int, line: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_no": line.line_no,
        "sku": line.sku,
        "title": line.title,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
    }


def _event_row(order_id: int, version: int, change: Change, by: Provenance, now: datetime) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "version": version,
        "type": change.event.value,
        "status": change.status.value,
        "source": by.source.value,
        "actor": by.actor,
        "occurred_at": change.occurred_at,
        "recorded_at": now,
        "inbound_message_id": by.inbound_message_id,
        "data": change.data,
    }


def _stored_content(row: Order, lines: list[OrderLine]) -> dict[str, object]:
    return {
        "currency": row.currency,
        "items": row.items_amount,
        "shipping": row.shipping_amount,
        "discount": row.discount_amount,
        "total": row.total_amount,
        "lines": [(x.sku, x.quantity, x.unit_price) for x in lines],
    }
