"""Direct delivery: events handed to idle subscriptions by the hub's fan-out task, in arrival order,
without Redis or a server."""

from __future__ import annotations

import asyncio
from typing import Any

from api.pubsub import ORDERS, Direct, Listener, Mailbox, PushHub, eager


async def test_eager_returns_the_result_of_a_coroutine_that_never_waits() -> None:
    async def ready() -> int:
        return 7

    assert eager(ready()) == 7


async def test_eager_finishes_a_coroutine_that_waits_on_a_task_of_its_own() -> None:
    gate = asyncio.get_running_loop().create_future()

    async def waits() -> str:
        return str(await gate) + "!"

    pending = eager(waits())
    assert isinstance(pending, asyncio.Future) and not pending.done()
    gate.set_result("sent")
    assert await pending == "sent!"


async def test_idle_subscriptions_get_events_directly_and_busy_ones_through_their_mailbox() -> None:
    hub = PushHub("redis://unused", queue_size=8)
    hub._fanout_task = asyncio.create_task(hub._deliver_directly())
    sent: list[tuple[str, int]] = []

    def direct(name: str) -> Any:
        async def prepare(envelope: dict[str, Any]) -> Direct:
            async def send() -> None:
                sent.append((name, envelope["version"]))

            return send

        return prepare

    idle = Listener(ORDERS, Mailbox(8), buyer_uid="uid-a", direct=direct("idle"))
    busy = Listener(ORDERS, Mailbox(8), buyer_uid="uid-a", direct=direct("busy"))
    hub.register(idle)
    hub.register(busy)
    waiting = asyncio.create_task(idle.mailbox.get())  # idle: its reader waits on an empty mailbox
    await asyncio.sleep(0)
    try:
        for version in (1, 2):
            hub.route(ORDERS, f'{{"order_id": 1, "version": {version}, "buyer_uid": "uid-a"}}')
        await asyncio.sleep(0.05)
        assert sent == [("idle", 1), ("idle", 2)]  # in order, and the idle reader never woke
        assert not waiting.done() and len(idle.mailbox) == 0
        assert [(await busy.mailbox.get())["version"] for _ in range(2)] == [1, 2]
    finally:
        waiting.cancel()
        await hub.stop()
