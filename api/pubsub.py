"""The push path inside one API process: one Redis subscriber connection, one dispatcher task,
and a bounded mailbox per websocket subscription.

A Redis connection per subscriber would cost a socket and a server-side client for every open
websocket; one shared subscription per process costs one, whatever the number of subscribers.
Events reach only mailboxes registered for them (by order, by buyer, or all), so routing cost
follows the number of interested subscribers, not the number connected.

Direct delivery: a subscription idle in its mailbox may register a `direct` function, and a single
fan-out task then delivers each event to it in the order events arrived, without waking the
subscription's task (a wake-up through the GraphQL layers cost more than the send itself). A direct
delivery runs eagerly: it finishes without ever yielding to the event loop when what it needs is
already read; the first one of an event waits for the shared reads, and the rest find them done. A
send that has to wait (a client that stopped reading, its socket full) is left to finish on a task of
its own, and that subscriber's next events go through its mailbox, so it holds up nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from domain.access.service import ACCESS_TOPIC
from runtime import metrics
from runtime.outbox_relay import DEFAULT_PUBSUB_PREFIX, channel_name

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
ORDERS = "orders"
EXCEPTIONS = "exceptions"
TOPICS = (ORDERS, EXCEPTIONS)
ACCESS = ACCESS_TOPIC

T = TypeVar("T")
SHARED_LOADS = 1024


class Lagged(Exception):
    """The subscriber fell so far behind that whole orders would be dropped: it must re-snapshot."""


class Revoked(Exception):
    """The subscriber's staff account was disabled or its roles changed: its connection must close."""


RESYNC: Envelope = {"resync": True}
"""Put in every mailbox after the Redis subscription was lost and restored: whatever was published
in the gap is gone from pub/sub, so each subscription reads its snapshot again."""


class Mailbox:
    """A bounded FIFO of envelopes. On overflow it keeps only the latest envelope per key (per order),
    which is all a client needs: it drops any event whose version is not higher than the last it saw.
    Only when more distinct keys are pending than the capacity does it give up and mark itself lagged."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: deque[tuple[Hashable, int, Envelope]] = deque()
        self._ready = asyncio.Event()
        self.coalesced = 0
        self.lagged = False
        self.revoked = False
        self._resync = False
        self._waiting = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def idle(self) -> bool:
        """Its reader waits on an empty mailbox with nothing to report: an event delivered directly now
        cannot overtake one the reader is still working on."""
        return self._waiting and not self._items and not (self.lagged or self.revoked or self._resync)

    def put(self, key: Hashable, version: int, envelope: Envelope) -> None:
        if len(self._items) >= self.capacity:
            self._compact()
        if len(self._items) >= self.capacity and all(k != key for k, _, _ in self._items):
            if not self.lagged:
                metrics.count_pushes(dropped=len(self._items) + 1)  # its reader re-snapshots instead
            self.lagged = True
        else:
            self._items.append((key, version, envelope))
            if len(self._items) > self.capacity:
                self._compact()
        self._ready.set()

    def _compact(self) -> None:
        latest: OrderedDict[Hashable, tuple[Hashable, int, Envelope]] = OrderedDict()
        for item in self._items:
            key, version, _ = item
            kept = latest.get(key)
            if kept is None or version >= kept[1]:
                latest.pop(key, None)
                latest[key] = item
        self.coalesced += len(self._items) - len(latest)
        metrics.count_pushes(dropped=len(self._items) - len(latest))
        self._items = deque(latest.values())

    def revoke(self) -> None:
        """Wake the reader at once, however much is queued: it must stop delivering."""
        self.revoked = True
        self._ready.set()

    def resync(self) -> None:
        """Ask the reader to re-read its snapshot before anything still queued."""
        self._resync = True
        self._ready.set()

    async def get(self) -> Envelope:
        while not self._items or self.lagged or self.revoked:
            if self.revoked:
                raise Revoked
            if self.lagged:
                raise Lagged
            if self._resync:
                break
            self._ready.clear()
            self._waiting = True
            try:
                await self._ready.wait()
            finally:
                self._waiting = False
        if self._resync:
            self._resync = False
            return RESYNC
        return self._items.popleft()[2]


Direct = bool | Callable[[], Coroutine[Any, Any, None]]
"""What a direct delivery prepared: the send to make; True when the event is not for this subscriber
(or a repeat), so nothing is sent; False when it must go through the subscription's task."""


@dataclass(eq=False)
class Listener:
    """One websocket subscription's interest: a topic and at most one routing key."""

    topic: str
    mailbox: Mailbox
    order_id: int | None = None
    buyer_uid: str | None = None
    staff_user_id: int | None = None
    customer_session: str | None = None
    """The customer sign-in the subscription acts for: it ends when that sign-in is revoked."""
    direct: Callable[[Envelope], Coroutine[Any, Any, Direct]] | None = None
    """Prepares an event's delivery without the subscription's task. Set by the subscription once it
    has sent its snapshot."""
    in_flight: asyncio.Future[None] | None = None


def eager(coro: Coroutine[Any, Any, T]) -> T | asyncio.Future[T]:
    """Runs `coro` until it first has to wait: its result when it never did, else a task finishing it.
    (Python 3.12's eager tasks do this; a task per subscriber and event is what direct delivery saves.)"""
    try:
        waiting = coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    return asyncio.ensure_future(_finish(coro, waiting))


async def _finish(coro: Coroutine[Any, Any, T], waiting: Any) -> T:
    """Drives a started coroutine as a task would: wait for the future it yielded, then resume it."""
    try:
        while True:
            if waiting is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                waiting._asyncio_future_blocking = False
                await asyncio.wait([waiting])
            try:
                waiting = coro.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
    except asyncio.CancelledError:
        coro.close()
        raise


@dataclass
class _Routes:
    by_order: dict[int, set[Listener]] = field(default_factory=dict)
    by_buyer: dict[str, set[Listener]] = field(default_factory=dict)
    everything: dict[str, set[Listener]] = field(default_factory=lambda: {t: set() for t in TOPICS})

    def _index(self, listener: Listener) -> tuple[dict[Any, set[Listener]], Any]:
        if listener.order_id is not None:
            return self.by_order, listener.order_id
        if listener.buyer_uid is not None:
            return self.by_buyer, listener.buyer_uid
        return self.everything, listener.topic

    def add(self, listener: Listener) -> None:
        index, key = self._index(listener)
        index.setdefault(key, set()).add(listener)

    def remove(self, listener: Listener) -> None:
        index, key = self._index(listener)
        found = index.get(key)
        if found is not None:
            found.discard(listener)
            if not found and index is not self.everything:
                del index[key]

    def matching(self, topic: str, envelope: Envelope) -> Iterator[Listener]:
        yield from self.everything[topic]
        order_id = envelope.get("order_id")
        for listener in self.by_order.get(order_id, ()) if isinstance(order_id, int) else ():
            if listener.topic == topic:
                yield listener
        buyer = envelope.get("buyer_uid")
        for listener in self.by_buyer.get(buyer, ()) if isinstance(buyer, str) else ():
            if listener.topic == topic:
                yield listener

    def all(self) -> list[Listener]:
        indexes: list[dict[Any, set[Listener]]] = [self.by_order, self.by_buyer, self.everything]
        return [listener for index in indexes for listeners in index.values() for listener in listeners]

    def __len__(self) -> int:
        return len(self.all())


def mailbox_key(topic: str, envelope: Envelope) -> tuple[Hashable, int]:
    """Orders coalesce by order and rank by version; exceptions coalesce by exception, latest arrival wins."""
    if topic == ORDERS:
        return envelope.get("order_id"), int(envelope.get("version") or 0)
    return envelope.get("exception_id"), 0


def _observe(done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.debug("direct push delivery failed", exc_info=done.exception())


class PushHub:
    """One per API process; started on the first subscription, stopped with the app."""

    def __init__(self, redis_url: str, queue_size: int, prefix: str = DEFAULT_PUBSUB_PREFIX) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.client_name = f"orderhub-push-{os.getpid()}-{secrets.token_hex(3)}"
        self.reconnect_delay_s = 1.0
        self.queue_size = queue_size
        self.routes = _Routes()
        self.delivered = 0
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._loads: OrderedDict[Hashable, asyncio.Future[Any]] = OrderedDict()
        self._fanout: deque[tuple[Hashable, int, Envelope, list[Listener]]] = deque()
        self._fanout_ready = asyncio.Event()
        self._fanout_task: asyncio.Task[None] | None = None
        self.on_customer_revoked: Callable[[str], None] | None = None
        """Told of each revoked customer sign-in: the process forgets what it cached of it."""

    @property
    def listeners(self) -> int:
        return len(self.routes)

    async def start(self) -> None:
        """Returns once Redis has confirmed the subscription, so nothing published afterwards is missed."""
        async with self._starting:
            if self._task is not None:
                return
            self._redis = Redis.from_url(self.redis_url, client_name=self.client_name)
            self._pubsub = self._redis.pubsub()
            channels = [channel_name(t, self.prefix) for t in (*TOPICS, ACCESS)]
            try:
                await self._pubsub.subscribe(*channels)
                confirmed = 0
                async with asyncio.timeout(10):
                    while confirmed < len(channels):
                        message = await self._pubsub.get_message(timeout=1)
                        if message is not None and message["type"] == "subscribe":
                            confirmed += 1
            except BaseException:  # Redis unreachable: the next subscription tries again from scratch
                await self.stop()
                raise
            self._task = asyncio.create_task(self._dispatch(), name="push-dispatcher")
            self._fanout_task = asyncio.create_task(self._deliver_directly(), name="push-fan-out")

    def shared(
        self, key: Hashable, load: Callable[[], Awaitable[T]], keep: Callable[[T], bool] = lambda _: True
    ) -> asyncio.Future[T]:
        """One read per event and process, however many subscribers show that event. A result `keep`
        refuses (the event is not committed, yet) is read again next time: a forged or early envelope
        must not hide the real one that follows."""
        found = self._loads.get(key)
        if found is not None:
            return found
        future: asyncio.Future[T] = asyncio.ensure_future(load())
        self._loads[key] = future

        def forget_failure(done: asyncio.Future[T]) -> None:
            if done.cancelled() or done.exception() is not None or not keep(done.result()):
                self._loads.pop(key, None)

        future.add_done_callback(forget_failure)
        while len(self._loads) > SHARED_LOADS:
            self._loads.popitem(last=False)
        return future

    def register(self, listener: Listener) -> None:
        self.routes.add(listener)
        metrics.WEBSOCKET_SUBSCRIBERS.inc()

    def unregister(self, listener: Listener) -> None:
        self.routes.remove(listener)
        metrics.WEBSOCKET_SUBSCRIBERS.dec()

    async def _dispatch(self) -> None:
        assert self._pubsub is not None
        topics = {channel_name(t, self.prefix).encode(): t for t in (*TOPICS, ACCESS)}
        gap = False
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis-py reconnects and resubscribes on the next read
                log.warning("push subscriber connection lost (%s); reconnecting", exc)
                gap = True
                await asyncio.sleep(self.reconnect_delay_s)
                continue
            if message is None:
                continue
            if message["type"] == "subscribe" and gap:
                gap = False
                log.warning("push subscriber reconnected; subscriptions re-read their snapshots")
                for listener in self.routes.all():
                    listener.mailbox.resync()
            if message["type"] != "message":
                continue
            topic = topics.get(message["channel"])
            if topic is not None:
                self.route(topic, message["data"])

    def route(self, topic: str, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("dropped a malformed %s envelope", topic)
            return
        if not isinstance(envelope, dict):
            return
        if topic == ACCESS:
            self._revoke(envelope)
            return
        key, version = mailbox_key(topic, envelope)
        direct = []
        matched = 0
        for listener in self.routes.matching(topic, envelope):
            if listener.direct is None:
                listener.mailbox.put(key, version, envelope)
            else:
                direct.append(listener)
            matched += 1
        self.delivered += matched
        metrics.count_pushes(sent=matched)
        if direct:
            self._fanout.append((key, version, envelope, direct))
            self._fanout_ready.set()

    async def _deliver_directly(self) -> None:
        """Events in arrival order; per event, each listener in turn, directly when it is idle."""
        while True:
            while not self._fanout:
                self._fanout_ready.clear()
                await self._fanout_ready.wait()
            key, version, envelope, listeners = self._fanout.popleft()
            for listener in listeners:
                await self._deliver(listener, key, version, envelope)

    async def _deliver(self, listener: Listener, key: Hashable, version: int, envelope: Envelope) -> None:
        mailbox, prepare = listener.mailbox, listener.direct
        busy = listener.in_flight is not None and not listener.in_flight.done()
        if prepare is None or busy or not mailbox.idle:
            mailbox.put(key, version, envelope)
            return
        try:
            prepared = eager(prepare(envelope))
            if isinstance(prepared, asyncio.Future):  # the first of its kind waits for the shared reads
                prepared = await prepared
        except Exception:  # the connection went away meanwhile: its subscription is ending
            log.debug("direct push delivery failed", exc_info=True)
            return
        if prepared is False:
            mailbox.put(key, version, envelope)
        elif prepared is not True:
            sending = eager(prepared())
            if isinstance(sending, asyncio.Future):  # its socket is full: it finishes alone, later events queue
                listener.in_flight = sending
                sending.add_done_callback(_observe)

    def _revoke(self, envelope: Envelope) -> None:
        """A staff account's access changed, or a customer sign-in was revoked: their subscriptions end."""
        staff_user_id, customer_session = envelope.get("staff_user_id"), envelope.get("customer_session")
        for listener in self.routes.all():
            staff = listener.staff_user_id is not None and listener.staff_user_id == staff_user_id
            signed_in = listener.customer_session is not None and listener.customer_session == customer_session
            if staff or signed_in:
                listener.mailbox.revoke()
        if isinstance(customer_session, str) and self.on_customer_revoked is not None:
            self.on_customer_revoked(customer_session)

    async def stop(self) -> None:
        if self._fanout_task is not None:
            self._fanout_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fanout_task
            self._fanout_task = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
