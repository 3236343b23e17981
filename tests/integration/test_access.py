"""Access that can be taken back: staff accounts checked on every request and websocket, partner keys
bound to their channels, throttled staff sign-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
import websockets
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.app import create_app
from api.pubsub import PushHub
from domain.access import service as access_service
from domain.access.service import create_staff, disable_staff, issue_partner_key, set_staff_roles
from domain.clock import utcnow
from domain.errors import UserError
from domain.outbox.service import Outbox
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, paid_order, scan
from tests.integration.orders_fixtures import ORDER, ORDERS, SUBMIT_ORDER, order_input
from tests.integration.push_client import ORDER_UPDATES, GraphQLWs, serving

EN = {"Accept-Language": "en"}  # messages are read by their English text here

LOGIN = """
mutation Login($input: StaffLoginInput!) { staffLogin(input: $input) { token userErrors { code } } }
"""
RECON_RUN = '{ reconRun(id: "gid://orderhub/ReconRun/1") { id } }'  # finance or admin only


@pytest.fixture
async def strict(rt: Runtime) -> AsyncIterator[Api]:
    """The app with the staff accounts cache off: every request reads the account."""
    app = create_app(settings=rt.settings.model_copy(update={"staff_check_seconds": 0}), runtime=rt)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN
    ) as client:
        yield Api(client, rt)


async def _disable(rt: Runtime, email: str) -> None:
    async with rt.core.sessions() as session, session.begin():
        await disable_staff(session, email, Outbox())
    rt.relay.notify()


async def test_disabled_staff_token_stops_working_at_once(strict: Api, creds: Credentials) -> None:
    before = await strict.gql(ORDERS, {"first": 1}, headers=creds.cs)
    assert "errors" not in before
    await _disable(strict.runtime, "cs@shop.example")
    after = await strict.gql(ORDERS, {"first": 1}, headers=creds.cs)
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "disabled" in after["errors"][0]["message"]
    login = await strict.gql(LOGIN, {"input": {"email": "cs@shop.example", "password": "correct horse battery"}})
    assert login["data"]["staffLogin"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_demoted_staff_loses_its_old_roles_at_once(strict: Api, creds: Credentials) -> None:
    assert "errors" not in await strict.gql(RECON_RUN, headers=creds.admin)
    async with strict.runtime.core.sessions() as session, session.begin():
        await set_staff_roles(session, "admin@shop.example", ["cs"], Outbox())
    refused = await strict.gql(RECON_RUN, headers=creds.admin)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _listeners(app: Any) -> int:
    hub: PushHub | None = getattr(app.state, "push_hub", None)
    return 0 if hub is None else hub.listeners


async def test_disabled_staff_websocket_is_closed(api: Api, creds: Credentials) -> None:
    """The account check is cached for a minute here: the revocation message closes the idle socket."""
    settings = api.runtime.settings.model_copy(update={"staff_check_seconds": 60})
    app = create_app(settings=settings, runtime=api.runtime)
    async with serving(app) as url, GraphQLWs.open(url, creds.cs) as ws, GraphQLWs.open(url, creds.admin) as other:
        await ws.subscribe(ORDER_UPDATES)
        op = await other.subscribe(ORDER_UPDATES)
        async with asyncio.timeout(10):
            while _listeners(app) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await _disable(api.runtime, "cs@shop.example")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        placed = await api.gql(SUBMIT_ORDER, {"input": order_input("STILL-ON")}, headers=creds.writer)
        order_id = placed["data"]["submitOrder"]["order"]["id"]
        while (update := (await other.next(op))["data"]["orderUpdates"])["order"]["id"] != order_id:
            pass
        assert update["status"] == "PENDING_PAYMENT"  # the other account's socket still delivers
    with pytest.raises(websockets.ConnectionClosed):  # the disabled account cannot reconnect
        async with serving(app) as url, GraphQLWs.open(url, creds.cs):
            pass


async def _douyin_key(rt: Runtime) -> dict[str, str]:
    async with rt.core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "douyin-bridge", ["orders:write", "orders:read"], ["douyin"])
    assert issued.channels == ["DOUYIN"]
    return {"X-Api-Key": issued.key}


async def test_channel_bound_key_cannot_touch_another_channels_orders(api: Api, creds: Credentials) -> None:
    douyin = await _douyin_key(api.runtime)
    taobao = await api.gql(SUBMIT_ORDER, {"input": order_input("TB-1")}, headers=creds.writer)
    taobao_id = taobao["data"]["submitOrder"]["order"]["id"]
    mine = await api.gql(SUBMIT_ORDER, {"input": order_input("DY-1", channel="DOUYIN")}, headers=douyin)
    assert mine["data"]["submitOrder"]["userErrors"] == []

    paid = order_input("TB-1", status="PAID", paidAt="2026-11-24T20:16:40+08:00")
    refused = (await api.gql(SUBMIT_ORDER, {"input": paid}, headers=douyin))["data"]["submitOrder"]
    assert refused["order"] is None
    assert refused["userErrors"] == [
        {
            "field": ["input", "channel"],
            "message": "this API key serves DOUYIN, not TAOBAO",
            "code": "CHANNEL_NOT_ALLOWED",
        }
    ]
    fresh = (await api.gql(SUBMIT_ORDER, {"input": order_input("TB-2")}, headers=douyin))["data"]["submitOrder"]
    assert fresh["userErrors"][0]["code"] == "CHANNEL_NOT_ALLOWED"

    assert (await api.gql(ORDER, {"id": taobao_id}, headers=douyin))["data"]["order"] is None
    listed = await api.gql(ORDERS, {"first": 10}, headers=douyin)
    assert [e["node"]["channelOrderId"] for e in listed["data"]["orders"]["edges"]] == ["DY-1"]
    seen_by_all = await api.gql(ORDERS, {"first": 10}, headers=creds.reader)  # a key issued for every channel
    assert {e["node"]["channelOrderId"] for e in seen_by_all["data"]["orders"]["edges"]} == {"TB-1", "DY-1"}
    unchanged = await api.gql(ORDER, {"id": taobao_id}, headers=creds.reader)
    assert unchanged["data"]["order"]["status"] == "PENDING_PAYMENT"


async def test_unknown_channel_is_refused_when_issuing(rt: Runtime) -> None:
    async with rt.core.sessions() as session:
        with pytest.raises(UserError, match="unknown channels: tiktok"):
            await issue_partner_key(session, "x", ["orders:read"], ["tiktok"])
        with pytest.raises(UserError, match="at least one channel"):
            await issue_partner_key(session, "x", ["orders:read"], [])


def _throttled(result: dict[str, Any]) -> int:
    [error] = result["errors"]
    assert error["extensions"]["code"] == "THROTTLED", error
    wait: int = error["extensions"]["retryAfterSeconds"]
    assert 0 < wait <= 60 and f"retry in {wait} s" in error["message"]
    return wait


async def test_sixth_failed_login_in_a_minute_is_throttled_even_with_the_right_password(
    api: Api, creds: Credentials
) -> None:
    wrong = {"email": "admin@shop.example", "password": "not the password"}
    for _ in range(5):
        result = await api.gql(LOGIN, {"input": wrong})
        assert result["data"]["staffLogin"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    right = {"email": " Admin@shop.example", "password": "correct horse battery"}
    _throttled(await api.gql(LOGIN, {"input": right}))
    other = await api.gql(LOGIN, {"input": {"email": "cs@shop.example", "password": "correct horse battery"}})
    assert other["data"]["staffLogin"]["token"]  # another account from the same address still signs in


async def test_failed_logins_are_throttled_per_address(rt: Runtime, creds: Credentials) -> None:
    settings = rt.settings.model_copy(update={"login_failures_per_address": 3})
    app = create_app(settings=settings, runtime=rt)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN
    ) as client:
        api = Api(client, rt)
        for n in range(3):
            await api.gql(LOGIN, {"input": {"email": f"guess{n}@shop.example", "password": "guess guess guess"}})
        _throttled(await api.gql(LOGIN, {"input": {"email": "cs@shop.example", "password": "correct horse battery"}}))
    elsewhere = httpx.ASGITransport(app=app, client=("10.0.0.9", 4000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://orderhub.test", headers=EN) as client:
        ok = await Api(client, rt).gql(
            LOGIN, {"input": {"email": "cs@shop.example", "password": "correct horse battery"}}
        )
    assert ok["data"]["staffLogin"]["token"]


async def test_channel_bound_warehouse_key_cannot_scan_another_channels_order(api: Api, creds: Credentials) -> None:
    await paid_order(api, creds, "TB-SCAN")
    async with api.runtime.core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "douyin-wms", ["wms:write"], ["DOUYIN"])
    result = await api.gql(
        WAREHOUSE, {"input": scan("PICKED", utcnow(), "S-DY-1", "TB-SCAN")}, headers={"X-Api-Key": issued.key}
    )
    payload = result["data"]["recordWarehouseEvent"]
    assert payload["outcome"] is None
    assert payload["userErrors"][0]["code"] == "CHANNEL_NOT_ALLOWED"


async def test_channel_bound_key_cannot_report_on_another_channels_order(api: Api, creds: Credentials) -> None:
    await api.gql(SUBMIT_ORDER, {"input": order_input("TB-CRM")}, headers=creds.writer)
    async with api.runtime.core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "douyin-crm", ["crm:write"], ["DOUYIN"])
    report = """mutation($input: ReportOrderCustomerInput!) { reportOrderCustomer(input: $input) {
      repeated userErrors { field code } } }"""
    refused = await api.gql(
        report,
        {"input": {"system": "CRM", "channelOrderId": "TB-CRM", "customerId": "C-1"}},
        headers={"X-Api-Key": issued.key},
    )
    assert refused["data"]["reportOrderCustomer"]["userErrors"] == [
        {"field": ["input", "channelOrderId"], "code": "NOT_FOUND"}
    ]


# Argon2 costs far apart: the slow one takes a large fraction of a second, the fast one microseconds.
SLOW_HASH = PasswordHash((Argon2Hasher(time_cost=12, memory_cost=65536, parallelism=1),))
FAST_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


async def _ticks_during(work: Awaitable[Any]) -> int:
    """How often another coroutine on the same loop ran while `work` was awaited."""
    ticks, done = 0, False

    async def tick() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        await work
    finally:
        done = True
        await ticker
    return ticks


async def _login_ticks(api: Api, email: str) -> int:
    async def login() -> None:
        result = await api.gql(LOGIN, {"input": {"email": email, "password": "correct horse battery"}})
        assert "errors" not in result

    return await _ticks_during(login())


async def test_staff_password_hashing_and_checking_run_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow hash leaves the loop serving: a ticker runs through it, so a slow hash sees many more ticks
    than a fast one; on the loop, both would see only the ticks of the database calls around them."""
    creating = {}
    for email, hasher in (("fast@shop.example", FAST_HASH), ("slow@shop.example", SLOW_HASH)):
        monkeypatch.setattr(access_service, "_passwords", hasher)
        async with api.runtime.core.sessions() as session, session.begin():
            creating[email] = await _ticks_during(create_staff(session, email, "correct horse battery", ["cs"]))
    assert creating["slow@shop.example"] > 5 * creating["fast@shop.example"], creating
    fast = await _login_ticks(api, "fast@shop.example")
    slow = await _login_ticks(api, "slow@shop.example")  # checked at the cost stored in its hash
    assert slow > 5 * fast, (slow, fast)
    unknown_slow = await _login_ticks(api, "nobody@shop.example")  # hashed anyway, at SLOW_HASH's cost
    monkeypatch.setattr(access_service, "_passwords", FAST_HASH)
    unknown_fast = await _login_ticks(api, "nobody@shop.example")
    assert unknown_slow > 5 * unknown_fast, (unknown_slow, unknown_fast)
