"""The per-subscription mailbox and the routing of envelopes, without Redis or a server."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.pubsub import EXCEPTIONS, ORDERS, Lagged, Listener, Mailbox, PushHub
from domain.orders.models import Order
from domain.orders.queries import EVERYONE, Viewer


def _envelope(order_id: int, version: int, buyer: str = "uid-a") -> dict[str, object]:
    return {"order_id": order_id, "version": version, "buyer_uid": buyer, "status": "PAID"}


async def _drain(box: Mailbox) -> list[tuple[object, object]]:
    out = []
    while len(box):
        item = await box.get()
        out.append((item["order_id"], item["version"]))
    return out


async def test_under_capacity_every_event_is_kept_in_order() -> None:
    box = Mailbox(4)
    for version in (1, 2, 3):
        box.put(7, version, _envelope(7, version))
    assert await _drain(box) == [(7, 1), (7, 2), (7, 3)]


async def test_overflow_keeps_the_latest_state_per_order() -> None:
    box = Mailbox(3)
    for order_id, version in [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3), (3, 1), (2, 3)]:
        box.put(order_id, version, _envelope(order_id, version))
    assert await _drain(box) == [(1, 3), (3, 1), (2, 3)]
    assert box.coalesced > 0 and not box.lagged


async def test_a_late_lower_version_does_not_replace_a_newer_one() -> None:
    box = Mailbox(1)
    box.put(1, 5, _envelope(1, 5))
    box.put(1, 4, _envelope(1, 4))
    assert await _drain(box) == [(1, 5)]


async def test_more_orders_than_capacity_lags_the_subscriber() -> None:
    box = Mailbox(2)
    for order_id in (1, 2, 3):
        box.put(order_id, 1, _envelope(order_id, 1))
    assert box.lagged
    with pytest.raises(Lagged):
        await box.get()


async def test_get_waits_for_a_put() -> None:
    box = Mailbox(2)
    waiting = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    box.put(9, 1, _envelope(9, 1))
    assert (await waiting)["order_id"] == 9


async def test_routing_reaches_only_interested_listeners() -> None:
    hub = PushHub("redis://unused", queue_size=8)
    by_buyer = Listener(ORDERS, Mailbox(8), buyer_uid="uid-a")
    by_order = Listener(ORDERS, Mailbox(8), order_id=2)
    everything = Listener(ORDERS, Mailbox(8))
    exceptions = Listener(EXCEPTIONS, Mailbox(8))
    for listener in (by_buyer, by_order, everything, exceptions):
        hub.register(listener)
    hub.route(ORDERS, json.dumps(_envelope(1, 1, "uid-a")))
    hub.route(ORDERS, json.dumps(_envelope(2, 1, "uid-b")))
    hub.route(ORDERS, b"{not json")
    assert (len(by_buyer.mailbox), len(by_order.mailbox), len(everything.mailbox)) == (1, 1, 2)
    assert len(exceptions.mailbox) == 0
    for listener in (by_buyer, by_order, everything, exceptions):
        hub.unregister(listener)
    assert hub.listeners == 0


def test_in_memory_visibility_matches_the_query_policy() -> None:
    row = Order(buyer_uid="uid-a")
    assert Viewer(buyer_uid="uid-a").sees(row)
    assert not Viewer(buyer_uid="uid-b").sees(row)
    assert EVERYONE.sees(row)
    assert not Viewer(buyer_uid="uid-a").sees(Order(buyer_uid=None))
