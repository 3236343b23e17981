"""Live push over graphql-transport-ws: order status changes for customers and staff, exceptions for staff.

Each subscription registers a mailbox with the process's PushHub before it reads its snapshot, so
nothing committed after the snapshot is missed; then it yields the snapshot, then queued events.
Delivery is at-least-once and may repeat or reorder across processes: the server drops an event
whose version is not higher than the last it sent, and clients must do the same.

Fan-out: thousands of subscribers often watch the same event with the same selection (every tab of
one buyer, every staff board). Executing the selection and encoding the JSON for each of them cost
about half a millisecond per subscriber, so a pushed event executes the subscription's selection once
per (event, selection, viewer kind), encodes it once, and every matching subscriber sends the same
text. Each subscriber still checks, for itself, that it may see the event (the ownership policy on
the row as stored) before it takes the shared text; the viewer kind (a customer and whose orders, or
staff and their roles) is part of the key, so staff-only fields never reach a customer's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Coroutine, Hashable
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, NoReturn

import strawberry
from graphql import DocumentNode, ExecutionResult, GraphQLError, OperationDefinitionNode, execute, print_ast
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.types import Info

from api.auth.principal import Anonymous, Customer, Staff, accounts_of
from api.graphql.context import Context, Loaders
from api.graphql.ids import decode_gid, encode_gid
from api.graphql.orders import Order, OrderStatusEnum
from api.pubsub import EXCEPTIONS, ORDERS, RESYNC, Direct, Envelope, Lagged, Listener, Mailbox, PushHub, Revoked
from domain.clock import utcnow
from domain.fulfilment.exceptions import committed_exception
from domain.i18n import tr
from domain.orders import queries
from domain.orders.models import Order as OrderRow
from domain.orders.queries import EVERYONE, Viewer
from domain.orders.status import OrderStatus

SNAPSHOT_ORDERS = 100
REMEMBERED_VERSIONS = 10_000
SELECTIONS_PRINTED = 256
ENVELOPE_KEYS = ("order_id", "version", "status", "event_id", "issued_at")

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
        hub = PushHub(runtime.redis_url, runtime.settings.push_queue_size, runtime.settings.pubsub_prefix)
        hub.on_customer_revoked = accounts_of(info.context.request).forget_session
        state.push_hub = hub
    return hub


_OPERATION: ContextVar[Operation[Context, None] | None] = ContextVar("graphql_ws_operation", default=None)


class PushTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, telling each operation's resolver which operation
    it serves, so that a pushed event can go out as text shared by every subscriber instead of
    being executed and encoded again for each of them."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        _OPERATION.set(operation)  # each operation runs in its own task: the variable is that task's
        await super().run_operation(operation)

    async def send_shared(self, operation: Operation[Context, None], payload: str) -> None:
        """Sends a `next` message whose payload was executed and encoded once for every subscriber."""
        if operation.completed or self.operations.get(operation.id) is not operation:
            return  # completed by the client (its task is being cancelled) or by the server
        text = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":{payload}}}'  # strawberry's own order
        socket = getattr(self.websocket, "ws", None)
        if not isinstance(socket, WebSocket):
            await self.websocket.send_json(json.loads(text))
            return
        try:
            await socket.send_text(text)
        except WebSocketDisconnect as exc:  # as strawberry's own send: the connection's handler ends it
            raise WebSocketDisconnected from exc


_PRINTED: OrderedDict[int, tuple[OperationDefinitionNode, str]] = OrderedDict()


def _printed(document: DocumentNode) -> str:
    """The selection as text, the part of the key that says what was asked. Printing costs about a
    millisecond; the parser cache hands every subscription of the same query the same operation node,
    so it is printed once per query (the entry holds the node, so its id is not reused meanwhile)."""
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    found = _PRINTED.get(id(operation))
    if found is None or found[0] is not operation:
        found = _PRINTED[id(operation)] = (operation, print_ast(document))
        while len(_PRINTED) > SELECTIONS_PRINTED:
            _PRINTED.popitem(last=False)
    return found[1]


class Fanout:
    """One subscription's side of the shared execution: what it asked for (the selection and its
    variables, read once), who asks (the viewer kind) and on which operation it sends. Staff roles and
    a customer's identity are part of the key: fields gated by role, or shown to a customer only for
    their own orders, come out the same for everyone with the same key."""

    def __init__(self, info: Info[Context, None]) -> None:
        raw = info._raw_info
        self.info = info
        self.operation = _OPERATION.get()  # read in the operation's own task
        self.document = DocumentNode(definitions=(raw.operation, *raw.fragments.values()))
        self.operation_name = raw.operation.name.value if raw.operation.name else None
        self.variables = dict(raw.variable_values)
        principal = info.context.principal
        kind: Hashable = (
            ("staff", tuple(sorted(str(r) for r in principal.roles)))
            if isinstance(principal, Staff)
            else ("customer", principal.buyer_uid if isinstance(principal, Customer) else None)
        )
        self.key = (_printed(self.document), json.dumps(self.variables, sort_keys=True, default=str), kind)

    @property
    def shares(self) -> bool:
        """Only graphql-transport-ws operations of our handler can send shared text."""
        return self.operation is not None and isinstance(self.operation.handler, PushTransportWSHandler)

    async def text(self, hub: PushHub, event_key: Hashable, update: object) -> str | None:
        """The event's payload as this selection and viewer kind are shown it, executed and encoded once;
        None when it must take strawberry's own path (the execution had errors, which are masked and
        reported per subscriber as before)."""
        return await hub.shared(("text", event_key, self.key), lambda: self._execute(update))  # type: ignore[no-any-return]

    def sender(self, payload: str) -> Callable[[], Coroutine[Any, Any, None]]:
        operation = self.operation
        assert operation is not None and isinstance(operation.handler, PushTransportWSHandler)
        handler = operation.handler
        return lambda: handler.send_shared(operation, payload)

    async def prepare(self, hub: PushHub, event_key: Hashable, update: object, record: Callable[[], bool]) -> Direct:
        """The send of this event's shared text; False when it must take strawberry's own path.
        `record` says whether to send (not a repeat) and remembers it was sent."""
        if not self.shares:
            return False
        payload = await self.text(hub, event_key, update)
        if payload is None:
            return False
        return self.sender(payload) if record() else True

    async def _execute(self, update: object) -> str | None:
        ctx = self.info.context
        ctx.loaders = Loaders(ctx.runtime)  # a long-lived connection must not serve stale relations
        outcome = execute(
            self.info._raw_info.schema,
            self.document,
            root_value=update,
            context_value=ctx,
            variable_values=self.variables,
            operation_name=self.operation_name,
        )
        result: ExecutionResult = await outcome if inspect.isawaitable(outcome) else outcome
        if result.errors or result.data is None:
            return None
        return json.dumps({"data": result.data}, separators=(",", ":"))


def _viewer(ctx: Context, *, staff_only: bool = False) -> Viewer:
    """The same caller checks as queries: connection_init authenticated the principal."""
    match ctx.principal:
        case Anonymous(reason=reason):
            raise GraphQLError(
                tr("authentication required ({reason})", reason=reason), extensions={"code": "UNAUTHENTICATED"}
            )
        case Staff():
            return EVERYONE
        case Customer(buyer_uid=uid) if not staff_only:
            return Viewer(buyer_uid=uid)
    needs = tr("any staff role") if staff_only else tr("a customer token or any staff role")
    raise GraphQLError(tr("not allowed: needs {needs}", needs=needs), extensions={"code": "FORBIDDEN"})


async def _check_credentials(ctx: Context) -> None:
    """A connection outliving its token stops receiving: the client reconnects with a fresh one.
    A staff connection whose account was disabled or changed roles since it connected is closed."""
    expires = ctx.credentials_expire_at
    if expires is not None and utcnow() >= expires:
        raise GraphQLError(tr("token expired; reconnect with a fresh token"), extensions={"code": "UNAUTHENTICATED"})
    principal = ctx.principal
    if isinstance(principal, Staff) and await accounts_of(ctx.request).current(principal.user_id) != principal:
        await _close_revoked(ctx)
    signed_in = principal.session if isinstance(principal, Customer) else None
    if signed_in is not None and not await accounts_of(ctx.request).signed_in(signed_in):
        await _close_revoked(ctx)


async def _allowed_now(ctx: Context) -> bool:
    """`_check_credentials` as a question: a direct delivery hands a refusal to the subscription's task."""
    expires = ctx.credentials_expire_at
    if expires is not None and utcnow() >= expires:
        return False
    principal = ctx.principal
    if isinstance(principal, Customer) and principal.session is not None:
        return await accounts_of(ctx.request).signed_in(principal.session)
    return not isinstance(principal, Staff) or await accounts_of(ctx.request).current(principal.user_id) == principal


async def _close_revoked(ctx: Context) -> NoReturn:
    """Closes the whole connection (4403), not only this operation: every subscription on it acted
    with the same account. Closing makes the protocol handler cancel this operation, so this waits."""
    if isinstance(ctx.principal, Staff):
        accounts_of(ctx.request).forget(ctx.principal.user_id)
    reason = "signed out" if isinstance(ctx.principal, Customer) else "staff access revoked"
    if isinstance(ctx.request, WebSocket):
        with contextlib.suppress(RuntimeError):  # already closing
            await ctx.request.close(code=4403, reason=reason)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _listener(ctx: Context, topic: str, hub: PushHub, **route: Any) -> Listener:
    staff = ctx.principal.user_id if isinstance(ctx.principal, Staff) else None
    signed_in = ctx.principal.session if isinstance(ctx.principal, Customer) else None
    return Listener(topic, Mailbox(hub.queue_size), staff_user_id=staff, customer_session=signed_in, **route)


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def _snapshot(ctx: Context, viewer: Viewer, order_id: int | None) -> list[OrderUpdate]:
    """Pub/sub forgets what it sent while nobody listened: the subscription starts from the database.
    Staff watching every order get no snapshot (that would be the whole table)."""
    async with ctx.read() as session:
        if order_id is not None:
            row = await queries.get_order(session, viewer, order_id)
            if row is None:
                raise GraphQLError(tr("no such order"), extensions={"code": "NOT_FOUND"})
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


async def _pushed(
    hub: PushHub, ctx: Context, viewer: Viewer, envelope: Envelope
) -> tuple[OrderUpdate, Hashable] | None:
    """Ownership is checked again for every event, on the row as stored, with the queries' policy,
    and the event must be one this database committed (pub/sub channels are shared by everything on
    that Redis). Both are read once per event and process and shared by every subscriber shown it,
    and so is the update built from them (with its key for the shared execution)."""
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
    event_id, issued = str(envelope.get("event_id")), envelope.get("issued_at")

    async def build() -> tuple[OrderUpdate, Hashable] | None:
        assert row is not None
        try:
            issued_at = _parse_time(issued) or row.updated_at
            update = _update(row, event_id, issued_at, version, str(status), False)
        except ValueError:
            return None
        return update, _event_key(update)

    built_from = ("update", order_id, version, status, event_id, str(issued), id(row))
    return await hub.shared(built_from, build)


def _event_key(update: OrderUpdate | ExceptionUpdate) -> Hashable:
    """Everything of the update that does not come from the shared row: two envelopes of the same
    change that differ in any of it (a forgery, a repeat with another time) are executed apart."""
    if isinstance(update, OrderUpdate):
        row_id = update.order.row.id
        return ("order", row_id, update.version, str(update.status), update.event_id, update.issued_at.isoformat())
    fields = (update.exception_id, update.order_id, update.kind, update.state, update.opened_at, update.resolved_at)
    return ("exception", update.event_id, update.issued_at.isoformat(), *map(str, fields))


def _found(shown: tuple[OrderUpdate, str | None] | None) -> bool:
    """Kept for the other subscribers unless not found: an early or forged envelope must not hide the
    real one that follows (each subscriber reads again, as `_pushed` does)."""
    return shown is not None


def _repeat(last: OrderedDict[int, int], update: OrderUpdate) -> bool:
    return update.version <= last.get(update.order.row.id or 0, 0)


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
        tr("this subscriber fell too far behind; subscribe again for a fresh snapshot"), extensions={"code": "LAGGED"}
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
        self,
        info: Info[Context, None],
        order_id: strawberry.ID | None = None,
        statuses: Annotated[
            list[OrderStatusEnum] | None,  # type: ignore[valid-type]
            strawberry.argument(
                description="Only changes into one of these statuses (e.g. [PACKED]), the snapshot included; "
                "null: every change."
            ),
        ] = None,
    ) -> AsyncGenerator[OrderUpdate, None]:
        ctx = info.context
        wanted = None if statuses is None else frozenset(OrderStatus(s) for s in statuses)

        def shows(update: OrderUpdate) -> bool:
            return wanted is None or OrderStatus(update.status) in wanted

        viewer = _viewer(ctx)
        key = decode_gid(order_id, "Order")[1] if order_id is not None else None
        hub = _hub(info)
        await hub.start()
        buyer = viewer.buyer_uid if key is None else None
        listener = _listener(ctx, ORDERS, hub, order_id=key, buyer_uid=buyer)
        hub.register(listener)
        fanout = Fanout(info)
        last: OrderedDict[int, int] = OrderedDict()

        async def shown(envelope: Envelope) -> tuple[OrderUpdate, str | None] | None:
            """The event as this kind of viewer is shown it, and its shared text (None: execution failed)."""
            pushed = await _pushed(hub, ctx, viewer, envelope)
            if pushed is None:
                return None
            update, event_key = pushed
            return update, await fanout.text(hub, event_key, update) if fanout.shares else None

        async def prepare(envelope: Envelope) -> Direct:
            """Per subscriber only the checks that differ between subscribers of one key: its token's
            expiry and account, and whether it already sent this version; the rest is read once."""
            if not await _allowed_now(ctx):
                return False  # the subscription's task ends it
            event = tuple(envelope.get(k) for k in ENVELOPE_KEYS)
            found = await hub.shared(("shown", event, fanout.key), lambda: shown(envelope), keep=_found)
            if found is None or _repeat(last, found[0]) or not shows(found[0]):
                return True
            update, payload = found
            if payload is None or not fanout.shares:
                return False
            _is_newer(last, update)
            return fanout.sender(payload)

        try:
            envelope = RESYNC
            while True:
                await _check_credentials(ctx)
                if envelope is RESYNC:
                    ctx.loaders = Loaders(ctx.runtime)  # a long-lived connection must not serve stale relations
                    for update in await _snapshot(ctx, viewer, key):
                        if shows(update) and _is_newer(last, update):
                            yield update
                    if fanout.shares:
                        listener.direct = prepare
                else:
                    prepared = await prepare(envelope)
                    if prepared is False and (pushed := await _pushed(hub, ctx, viewer, envelope)) is not None:
                        if shows(pushed[0]) and _is_newer(last, pushed[0]):
                            ctx.loaders = Loaders(ctx.runtime)
                            yield pushed[0]
                    elif prepared is not True and prepared is not False:
                        await prepared()
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
        fanout = Fanout(info)
        try:
            while True:
                envelope = await listener.mailbox.get()
                await _check_credentials(ctx)
                update = None if envelope is RESYNC else await _exception_update(hub, ctx, envelope)
                if update is None:
                    continue
                prepared = await fanout.prepare(hub, _event_key(update), update, lambda: True)
                if prepared is False:
                    yield update
                elif prepared is not True:
                    await prepared()
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
