"""Live push over graphql-transport-ws: order status changes for customers and staff, exceptions for staff.

Each subscription registers a mailbox with the process's PushHub before it reads its snapshot, so
nothing committed after the snapshot is missed; then it yields the snapshot, then queued events.
Delivery is at-least-once and may repeat or reorder across processes: the server drops an event
whose version is not higher than the last it sent, and clients must do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any, NoReturn

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.types import Info

from api.auth.principal import Anonymous, Customer, Staff, accounts_of
from api.graphql.context import Context, Loaders
from api.graphql.ids import decode_gid, encode_gid
from api.graphql.orders import Order, OrderStatusEnum
from api.pubsub import EXCEPTIONS, ORDERS, RESYNC, Envelope, Lagged, Listener, Mailbox, PushHub, Revoked
from domain.clock import utcnow
from domain.fulfilment.exceptions import committed_exception
from domain.orders import queries
from domain.orders.models import Order as OrderRow
from domain.orders.queries import EVERYONE, Viewer
from domain.orders.status import OrderStatus

SNAPSHOT_ORDERS = 100
REMEMBERED_VERSIONS = 10_000

VERSION_RULE = (
    "Delivery is at-least-once and may arrive out of order across API processes: "
    "drop any update whose `version` is not higher than the last one you saw for that order."
)


@strawberry.type(description="One change of an order, pushed after it was committed. " + VERSION_RULE)
class OrderUpdate:
    event_id: str = strawberry.field(description="Stable per change: `<order>:<version>`; repeats carry the same id.")
    issued_at: datetime = strawberry.field(description="When the change was published (the snapshot: last update).")
    version: int = strawberry.field(description="The order's version after this change; rises by one per change.")
    status: OrderStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="The status after this change (`order.status` is the latest, which may be newer)."
    )
    snapshot: bool = strawberry.field(description="True for the current state read when the subscription began.")
    order: Order = strawberry.field(description="The order as the subscriber may see it, read when pushed.")


@strawberry.type(description="A change of an order exception (opened, assigned, resolved). Staff only.")
class ExceptionUpdate:
    event_id: str
    issued_at: datetime
    exception_id: strawberry.ID
    order_id: strawberry.ID | None
    kind: str
    state: str
    opened_at: datetime | None
    resolved_at: datetime | None


def _hub(info: Info[Context, None]) -> PushHub:
    """One hub per process, kept on the application; the app's lifespan stops it."""
    state = info.context.request.app.state  # type: ignore[union-attr]
    hub: PushHub | None = getattr(state, "push_hub", None)
    if hub is None:
        runtime = info.context.runtime
        hub = PushHub(runtime.redis_url, runtime.settings.push_queue_size)
        state.push_hub = hub
    return hub


def _viewer(ctx: Context, *, staff_only: bool = False) -> Viewer:
    """The same caller checks as queries: connection_init authenticated the principal."""
    match ctx.principal:
        case Anonymous(reason=reason):
            raise GraphQLError(f"authentication required ({reason})", extensions={"code": "UNAUTHENTICATED"})
        case Staff():
            return EVERYONE
        case Customer(buyer_uid=uid) if not staff_only:
            return Viewer(buyer_uid=uid)
    needs = "any staff role" if staff_only else "a customer token or any staff role"
    raise GraphQLError(f"not allowed: needs {needs}", extensions={"code": "FORBIDDEN"})


async def _check_credentials(ctx: Context) -> None:
    """A connection outliving its token stops receiving: the client reconnects with a fresh one.
    A staff connection whose account was disabled or changed roles since it connected is closed."""
    expires = ctx.credentials_expire_at
    if expires is not None and utcnow() >= expires:
        raise GraphQLError("token expired; reconnect with a fresh token", extensions={"code": "UNAUTHENTICATED"})
    principal = ctx.principal
    if isinstance(principal, Staff) and await accounts_of(ctx.request).current(principal.user_id) != principal:
        await _close_revoked(ctx)


async def _close_revoked(ctx: Context) -> NoReturn:
    """Closes the whole connection (4403), not only this operation: every subscription on it acted
    with the same account. Closing makes the protocol handler cancel this operation, so this waits."""
    if isinstance(ctx.principal, Staff):
        accounts_of(ctx.request).forget(ctx.principal.user_id)
    if isinstance(ctx.request, WebSocket):
        with contextlib.suppress(RuntimeError):  # already closing
            await ctx.request.close(code=4403, reason="staff access revoked")
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _listener(ctx: Context, topic: str, hub: PushHub, **route: Any) -> Listener:
    staff = ctx.principal.user_id if isinstance(ctx.principal, Staff) else None
    return Listener(topic, Mailbox(hub.queue_size), staff_user_id=staff, **route)


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def _snapshot(ctx: Context, viewer: Viewer, order_id: int | None) -> list[OrderUpdate]:
    """Pub/sub forgets what it sent while nobody listened: the subscription starts from the database.
    Staff watching every order get no snapshot (that would be the whole table)."""
    async with ctx.read() as session:
        if order_id is not None:
            row = await queries.get_order(session, viewer, order_id)
            if row is None:
                raise GraphQLError("no such order", extensions={"code": "NOT_FOUND"})
            rows = [row]
        elif viewer.unrestricted:
            rows = []
        else:
            page = await queries.list_orders(
                session, viewer, queries.OrderFilter(), queries.PageRequest(first=SNAPSHOT_ORDERS)
            )
            rows = list(reversed(page.rows))
    return [_update(row, f"{row.id}:{row.version}", row.updated_at, row.version, row.status, True) for row in rows]


def _update(row: OrderRow, event_id: str, issued_at: datetime, version: int, status: str, snap: bool) -> OrderUpdate:
    return OrderUpdate(
        event_id=event_id,
        issued_at=issued_at,
        version=version,
        status=OrderStatus(status),
        snapshot=snap,
        order=Order.of(row),
    )


async def _pushed(hub: PushHub, ctx: Context, viewer: Viewer, envelope: Envelope) -> OrderUpdate | None:
    """Ownership is checked again for every event, on the row as stored, with the queries' policy,
    and the event must be one this database committed (pub/sub channels are shared by everything on
    that Redis). Both are read once per event and process and shared by every subscriber shown it."""
    order_id, version, status = envelope.get("order_id"), envelope.get("version"), envelope.get("status")
    if not isinstance(order_id, int) or not isinstance(version, int):
        return None

    async def load() -> tuple[OrderRow | None, str | None]:
        async with ctx.read() as session:
            row = await queries.get_order(session, EVERYONE, order_id)
            return row, await queries.status_at(session, order_id, version)

    row, committed = await hub.shared(("order", order_id, version), load, keep=lambda found: found[1] is not None)
    if row is None or committed is None or committed != status or not viewer.sees(row):
        return None
    try:
        issued_at = _parse_time(envelope.get("issued_at")) or row.updated_at
        return _update(row, str(envelope.get("event_id")), issued_at, version, str(status), False)
    except ValueError:
        return None


def _is_newer(last: OrderedDict[int, int], update: OrderUpdate) -> bool:
    """Remembers the highest version sent per order; anything not higher is a repeat or arrived late."""
    row_id = update.order.row.id or 0
    if update.version <= last.get(row_id, 0):
        return False
    last[row_id] = update.version
    last.move_to_end(row_id)
    if len(last) > REMEMBERED_VERSIONS:
        last.popitem(last=False)
    return True


def _lagged() -> GraphQLError:
    return GraphQLError(
        "this subscriber fell too far behind; subscribe again for a fresh snapshot", extensions={"code": "LAGGED"}
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Status changes of the caller's orders (customers: their own; staff: all, or the one given). "
            "Starts with a snapshot of the current state (customers: their 100 most recent orders; "
            "staff: the order given, none when watching all), then pushes each committed change. " + VERSION_RULE
        )
    )
    async def order_updates(
        self, info: Info[Context, None], order_id: strawberry.ID | None = None
    ) -> AsyncGenerator[OrderUpdate, None]:
        ctx = info.context
        viewer = _viewer(ctx)
        key = decode_gid(order_id, "Order")[1] if order_id is not None else None
        hub = _hub(info)
        await hub.start()
        buyer = viewer.buyer_uid if key is None else None
        listener = _listener(ctx, ORDERS, hub, order_id=key, buyer_uid=buyer)
        hub.register(listener)
        last: OrderedDict[int, int] = OrderedDict()
        try:
            envelope = RESYNC
            while True:
                await _check_credentials(ctx)
                ctx.loaders = Loaders(ctx.runtime)  # a long-lived connection must not serve stale relations
                if envelope is RESYNC:
                    updates = await _snapshot(ctx, viewer, key)
                else:
                    pushed = await _pushed(hub, ctx, viewer, envelope)
                    updates = [] if pushed is None else [pushed]
                for update in updates:
                    if _is_newer(last, update):
                        yield update
                envelope = await listener.mailbox.get()
        except Lagged:
            raise _lagged() from None
        except Revoked:
            await _close_revoked(ctx)
        finally:
            hub.unregister(listener)

    @strawberry.subscription(description="Staff only: order exceptions as they are opened, assigned and resolved.")
    async def exception_updates(self, info: Info[Context, None]) -> AsyncGenerator[ExceptionUpdate, None]:
        ctx = info.context
        _viewer(ctx, staff_only=True)
        hub = _hub(info)
        await hub.start()
        listener = _listener(ctx, EXCEPTIONS, hub)
        hub.register(listener)
        try:
            while True:
                envelope = await listener.mailbox.get()
                await _check_credentials(ctx)
                update = None if envelope is RESYNC else await _exception_update(hub, ctx, envelope)
                if update is not None:
                    yield update
        except Lagged:
            raise _lagged() from None
        except Revoked:
            await _close_revoked(ctx)
        finally:
            hub.unregister(listener)


async def _exception_update(hub: PushHub, ctx: Context, envelope: Envelope) -> ExceptionUpdate | None:
    """Only what this database committed reaches staff: an envelope naming an exception that does not
    exist here, or not as described, is dropped."""
    exception_id, order_id = envelope.get("exception_id"), envelope.get("order_id")
    if not isinstance(exception_id, int):
        return None
    kind, state = envelope.get("kind"), envelope.get("state")

    async def load() -> bool:
        async with ctx.read() as session:
            return await committed_exception(session, exception_id, kind, order_id, state) is not None

    if not await hub.shared(("exception", exception_id, kind, order_id, state), load, keep=bool):
        return None
    try:
        return ExceptionUpdate(
            event_id=str(envelope.get("event_id")),
            issued_at=_parse_time(envelope.get("issued_at")) or datetime.now().astimezone(),
            exception_id=strawberry.ID(encode_gid("OrderException", exception_id)),
            order_id=strawberry.ID(encode_gid("Order", order_id)) if isinstance(order_id, int) else None,
            kind=str(envelope.get("kind")),
            state=str(envelope.get("state")),
            opened_at=_parse_time(envelope.get("opened_at")),
            resolved_at=_parse_time(envelope.get("resolved_at")),
        )
    except ValueError:
        return None
