"""Live push through real websockets: a real uvicorn server, the graphql-transport-ws protocol, and
events that leave through the outbox relay and Redis pub/sub after the mutation commits.

Redis pub/sub channels are shared by everything on this Redis, so every buyer here has a fresh
random phone number and every assertion filters on ids this test created.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import websockets
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.asyncio.client import connect
from websockets.typing import Origin

from api.app import create_app
from api.auth.tokens import issue_customer_token
from api.pubsub import PushHub
from domain.clock import utcnow
from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import ExceptionKind
from domain.outbox.service import Outbox
from runtime.outbox_relay import channel_name
from runtime.process import Runtime, build_runtime
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.push_client import ORDER_UPDATES, PROTOCOL, GraphQLWs, serving


def _phone() -> str:
    return f"+86 139 {secrets.randbelow(10_000):04d} {secrets.randbelow(10_000):04d}"


async def _place(api: Api, creds: Credentials, phone: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pending order for a buyer; returns the order and the input that pays it when resubmitted."""
    base = order_input(channel_order_id=secrets.token_hex(8), buyer={"phone": phone})
    placed = await api.gql(SUBMIT_ORDER, {"input": base}, headers=creds.writer)
    order: dict[str, Any] = placed["data"]["submitOrder"]["order"]
    return order, dict(base, status="PAID", paidAt="2026-11-24T20:16:40+08:00")


def _gid_key(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


@pytest.fixture
async def server(api: Api) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(runtime=api.runtime)
    async with serving(app) as url:
        yield url, app


def _listeners(app: Any) -> int:
    hub: PushHub | None = getattr(app.state, "push_hub", None)
    return -1 if hub is None else hub.listeners


async def _until(condition: Any, wait_s: float = 10) -> None:
    async with asyncio.timeout(wait_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_customer_sees_snapshot_then_only_own_changes(
    api: Api, creds: Credentials, server: tuple[str, Any]
) -> None:
    url, _ = server
    mine, pay_mine = await _place(api, creds, _phone())
    theirs, pay_theirs = await _place(api, creds, _phone())
    me = creds.customer(api.runtime, mine["buyerUid"])
    them = creds.customer(api.runtime, theirs["buyerUid"])
    async with GraphQLWs.open(url, me) as a, GraphQLWs.open(url, them) as b:
        op_a, op_b = await a.subscribe(ORDER_UPDATES), await b.subscribe(ORDER_UPDATES)
        first_a = (await a.next(op_a))["data"]["orderUpdates"]
        first_b = (await b.next(op_b))["data"]["orderUpdates"]
        assert first_a["snapshot"] is True and first_a["order"]["id"] == mine["id"]
        assert (first_a["version"], first_a["status"]) == (1, "PENDING_PAYMENT")
        assert first_b["order"]["id"] == theirs["id"]

        await api.gql(SUBMIT_ORDER, {"input": pay_theirs}, headers=creds.writer)
        await api.gql(SUBMIT_ORDER, {"input": pay_mine}, headers=creds.writer)
        pushed_a = (await a.next(op_a))["data"]["orderUpdates"]
        pushed_b = (await b.next(op_b))["data"]["orderUpdates"]
        assert pushed_a["snapshot"] is False
        assert (pushed_a["order"]["id"], pushed_a["version"], pushed_a["status"]) == (mine["id"], 2, "PAID")
        assert pushed_a["eventId"] == f"{_gid_key(mine['id'])}:2"
        assert (pushed_b["order"]["id"], pushed_b["status"]) == (theirs["id"], "PAID")

        # someone else's order by id: refused as if it did not exist, and nothing of it ever arrives
        op_spy = await a.subscribe(ORDER_UPDATES, {"orderId": theirs["id"]})
        refused = await a.next(op_spy)
        assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        cancel = dict(pay_theirs, status="CANCELLED", cancelledAt="2026-11-24T21:00:00+08:00")
        await api.gql(SUBMIT_ORDER, {"input": cancel}, headers=creds.writer)
        assert (await b.next(op_b))["data"]["orderUpdates"]["status"] == "CANCELLED"
        with pytest.raises(TimeoutError):
            await a.next(op_a, wait_s=0.5)


async def test_bad_or_missing_token_is_refused_with_4403(api: Api, creds: Credentials, server: tuple[str, Any]) -> None:
    url, _ = server
    refusals = [
        {},
        {"Authorization": "Bearer not-a-token"},
        creds.writer,  # partner keys do not subscribe
    ]
    for payload in refusals:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with GraphQLWs.open(url, payload):
                pass
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, payload


async def test_exceptions_are_for_staff(api: Api, creds: Credentials, server: tuple[str, Any]) -> None:
    url, _ = server
    order, _ = await _place(api, creds, _phone())
    query = "subscription { exceptionUpdates { eventId exceptionId orderId kind state openedAt resolvedAt } }"
    async with GraphQLWs.open(url, creds.customer(api.runtime, order["buyerUid"])) as customer:
        refused = await customer.next(await customer.subscribe(query))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with GraphQLWs.open(url, creds.cs) as staff:
        op = await staff.subscribe(query)
        await _until(lambda: _listeners(server[1]) == 1)
        forged = {
            "event_id": "exception:999999:OPEN",
            "exception_id": 999999,
            "order_id": _gid_key(order["id"]),
            "kind": "SUSPICIOUS_OUTBOUND",
            "state": "OPEN",
            "opened_at": "2026-11-25T08:00:00+00:00",
            "resolved_at": None,
            "issued_at": "2026-11-25T08:00:01+00:00",
        }
        # pub/sub is shared by everything on this Redis: an exception this database never opened is dropped
        await api.runtime.redis.publish(channel_name("exceptions"), json.dumps(forged))
        outbox = Outbox()
        async with api.runtime.core.sessions() as session, session.begin():
            opened = await open_exception(
                session, outbox, ExceptionKind.SUSPICIOUS_OUTBOUND, "outbound too early", order_id=_gid_key(order["id"])
            )
            await outbox.flush(session)
        api.runtime.relay.notify()
        update = (await staff.next(op))["data"]["exceptionUpdates"]
        assert update["exceptionId"] == f"gid://orderhub/OrderException/{opened}"
        assert (update["orderId"], update["kind"], update["state"]) == (order["id"], "SUSPICIOUS_OUTBOUND", "OPEN")
        assert update["resolvedAt"] is None


async def test_burst_keeps_latest_state_in_version_order(api: Api, creds: Credentials) -> None:
    """The relay is down while an order changes 29 times; when it comes back it publishes them in one
    burst that a mailbox of two cannot hold: what arrives rises strictly and ends at the latest."""
    app = create_app(runtime=api.runtime)
    app.state.push_hub = PushHub(api.runtime.redis_url, queue_size=2)
    order, pay = await _place(api, creds, _phone())
    key = _gid_key(order["id"])
    async with serving(app) as url, GraphQLWs.open(url, creds.customer(api.runtime, order["buyerUid"])) as ws:
        op = await ws.subscribe(ORDER_UPDATES)
        assert (await ws.next(op))["data"]["orderUpdates"]["snapshot"] is True
        await api.runtime.relay.stop()
        for step in range(1, 30):  # each amendment (a smaller coupon) is a new version
            discount = Decimal("20.00") - Decimal(step) / 2
            amended = dict(pay, status="PENDING_PAYMENT", discountAmount=str(discount))
            amended.pop("paidAt")
            amended["totalAmount"] = str(Decimal("115.90") - discount)
            result = await api.gql(SUBMIT_ORDER, {"input": amended}, headers=creds.writer)
            assert result["data"]["submitOrder"]["order"]["version"] == step + 1
        api.runtime.relay.start()
        api.runtime.relay.notify()
        seen: list[int] = []
        while not seen or seen[-1] < 30:
            seen.append((await ws.next(op))["data"]["orderUpdates"]["version"])

        def envelope(version: int, status: str) -> str:
            fields = {"order_id": key, "version": version, "status": status, "buyer_uid": order["buyerUid"]}
            return json.dumps({**fields, "event_id": f"{key}:{version}", "issued_at": "2026-11-25T08:00:00+00:00"})

        await api.runtime.redis.publish(channel_name("orders"), envelope(10, "PENDING_PAYMENT"))  # a late repeat
        await api.runtime.redis.publish(channel_name("orders"), envelope(99, "SHIPPED"))  # never committed here
        paid = dict(amended, status="PAID", paidAt=pay["paidAt"])
        await api.gql(SUBMIT_ORDER, {"input": paid}, headers=creds.writer)
        last = (await ws.next(op))["data"]["orderUpdates"]
    assert seen == sorted(set(seen)) and seen[-1] == 30
    assert (last["version"], last["status"]) == (31, "PAID")


async def test_a_forged_envelope_does_not_hide_the_real_change_that_follows(
    api: Api, creds: Credentials, server: tuple[str, Any]
) -> None:
    """An envelope for a version not committed yet is dropped, and the real one is still delivered."""
    url, app = server
    a, pay_a = await _place(api, creds, _phone())
    b, pay_b = await _place(api, creds, _phone())
    async with GraphQLWs.open(url, creds.admin) as staff:
        op = await staff.subscribe(ORDER_UPDATES)  # every order, no snapshot
        await _until(lambda: _listeners(app) == 1)
        forged = {"order_id": _gid_key(a["id"]), "version": 2, "status": "PAID", "buyer_uid": a["buyerUid"],
                  "event_id": f"{_gid_key(a['id'])}:2", "issued_at": "2026-11-25T08:00:00+00:00"}  # fmt: skip
        await api.runtime.redis.publish(channel_name("orders"), json.dumps(forged))
        await api.gql(SUBMIT_ORDER, {"input": pay_b}, headers=creds.writer)

        async def next_of(order_id: str) -> dict[str, Any]:
            while (update := (await staff.next(op))["data"]["orderUpdates"])["order"]["id"] != order_id:
                pass
            return update

        assert (await next_of(b["id"]))["version"] == 2  # so the forged envelope was read and dropped before
        await api.gql(SUBMIT_ORDER, {"input": pay_a}, headers=creds.writer)
        real = await next_of(a["id"])
        assert (real["version"], real["status"], real["snapshot"]) == (2, "PAID", False)


async def test_change_on_one_process_reaches_a_subscriber_of_another(
    api: Api, creds: Credentials, server: tuple[str, Any]
) -> None:
    url_a, _ = server
    other: Runtime = await build_runtime(api.runtime.settings, migrate=False)
    try:
        async with serving(create_app(runtime=other)) as url_b:
            order, pay = await _place(api, creds, _phone())
            async with GraphQLWs.open(url_b, creds.customer(api.runtime, order["buyerUid"])) as ws:
                op = await ws.subscribe(ORDER_UPDATES, {"orderId": order["id"]})
                assert (await ws.next(op))["data"]["orderUpdates"]["version"] == 1
                assert url_a != url_b
                await api.gql(SUBMIT_ORDER, {"input": pay}, headers=creds.writer)  # served by process A
                pushed = (await ws.next(op))["data"]["orderUpdates"]
                assert (pushed["version"], pushed["status"], pushed["order"]["status"]) == (2, "PAID", "PAID")
    finally:
        await other.close()


async def test_unsubscribe_and_disconnect_unregister(api: Api, creds: Credentials, server: tuple[str, Any]) -> None:
    url, app = server
    order, _ = await _place(api, creds, _phone())
    token = creds.customer(api.runtime, order["buyerUid"])
    async with GraphQLWs.open(url, token) as ws:
        op = await ws.subscribe(ORDER_UPDATES)
        await ws.next(op)
        assert _listeners(app) == 1
        await ws.complete(op)
        await _until(lambda: _listeners(app) == 0)
        second = await ws.subscribe(ORDER_UPDATES, {"orderId": order["id"]})
        await ws.next(second)
        assert _listeners(app) == 1
    await _until(lambda: _listeners(app) == 0)  # the socket closed without complete


async def test_pages_of_other_origins_need_to_be_allowed(api: Api, creds: Credentials) -> None:
    settings = api.runtime.settings.model_copy(update={"cors_origins": ["https://shop.example"]})
    order, _ = await _place(api, creds, _phone())
    token = creds.customer(api.runtime, order["buyerUid"])
    async with serving(create_app(settings=settings, runtime=api.runtime)) as url:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(url, subprotocols=[PROTOCOL], origin=Origin("https://evil.example")):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 403
        async with connect(url, subprotocols=[PROTOCOL], origin=Origin("https://shop.example")) as socket:  # type: ignore[list-item]
            ws = GraphQLWs(socket)
            await ws.send({"type": "connection_init", "payload": token})
            assert (await ws.receive())["type"] == "connection_ack"


async def test_a_hub_that_cannot_reach_redis_fails_and_can_start_again() -> None:
    hub = PushHub("redis://127.0.0.1:1/0", queue_size=8)
    for _ in range(2):
        with pytest.raises(RedisConnectionError):
            await hub.start()
    assert hub._task is None and hub._redis is None


async def test_a_connection_outliving_its_token_stops_receiving(
    api: Api, creds: Credentials, server: tuple[str, Any]
) -> None:
    url, _ = server
    order, pay = await _place(api, creds, _phone())
    brief = issue_customer_token(api.runtime.settings.secret("token_secret"), order["buyerUid"], 1.5 / 60)
    async with GraphQLWs.open(url, {"Authorization": f"Bearer {brief.token}"}) as ws:
        op = await ws.subscribe(ORDER_UPDATES)
        assert (await ws.next(op))["data"]["orderUpdates"]["snapshot"] is True
        while utcnow() < brief.expires_at:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await api.gql(SUBMIT_ORDER, {"input": pay}, headers=creds.writer)
        refused = await ws.next(op)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "data" not in refused or refused["data"] is None


async def test_a_lost_redis_subscription_is_restored_and_the_gap_read_from_the_database(
    api: Api, creds: Credentials, server: tuple[str, Any]
) -> None:
    url, app = server
    order, pay = await _place(api, creds, _phone())
    async with GraphQLWs.open(url, creds.customer(api.runtime, order["buyerUid"])) as ws:
        op = await ws.subscribe(ORDER_UPDATES)
        assert (await ws.next(op))["data"]["orderUpdates"]["version"] == 1
        hub: PushHub = app.state.push_hub
        hub.reconnect_delay_s = 3
        redis = api.runtime.redis

        async def hub_clients() -> list[dict[str, Any]]:
            return [c for c in await redis.client_list() if c.get("name") == hub.client_name]

        [connection] = await hub_clients()
        await redis.client_kill_filter(_id=connection["id"])
        while await hub_clients():  # noqa: ASYNC110 (polling Redis)
            await asyncio.sleep(0.02)
        await api.gql(SUBMIT_ORDER, {"input": pay}, headers=creds.writer)  # its push is lost with the connection
        update = (await ws.next(op))["data"]["orderUpdates"]
        assert (update["version"], update["status"], update["snapshot"]) == (2, "PAID", True)
        assert [c.get("sub") for c in await hub_clients()] == ["3"]  # orders, exceptions, access
