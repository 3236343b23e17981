"""Offline pushes to buyers' apps: devices, the JPush wire format against a local fake, quiet hours, opt-out,
refusals, and the status filter of the orderUpdates subscription."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlmodel import select
from werkzeug import Request, Response

from api.app import create_app
from domain.clock import utcnow
from domain.outbox.service import Outbox
from domain.prediction.service import StoredPrediction, store_prediction
from domain.push.models import NoticeState, PushNotice
from domain.push.service import DEVICES_PER_BUYER, PUSH_JOB, SEND_PUSH_JOB, Delivery, devices_of
from runtime.jpush import JPush, PushRefused, PushUnavailable
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, outbox_rows, paid_order, request_ship, scan
from tests.integration.push_client import GraphQLWs, serving
from workers.push_jobs import push_order_update, send_push

APP_KEY = "7d431e42dfa6a6d693ac2d04"
MASTER_SECRET = "5e987ac6d2e04d95a9d8f0d1"
NOON = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
LATE = datetime(2026, 12, 8, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: quiet hours (22:00 to 08:00)
MORNING = datetime(2026, 12, 9, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai

REGISTER = """mutation($input: RegisterDeviceInput!) { registerDevice(input: $input) {
  device { platform registrationId } userErrors { field message code } } }"""
UNREGISTER = """mutation($input: UnregisterDeviceInput!) { unregisterDevice(input: $input) {
  registrationId userErrors { field code } } }"""
OPT_OUT = """mutation($input: SetPushOptOutInput!) { setPushOptOut(input: $input) { optedOut userErrors { code } } }"""


@dataclass
class FakeJPush:
    """JPush's push endpoint as documented: Basic auth of appKey:masterSecret, a push object in, a msg_id out,
    and its error bodies (1004 for bad credentials, or whatever `refuse` says)."""

    server: HTTPServer
    pushes: list[dict[str, Any]] = field(default_factory=list)
    refuse: tuple[int, int, str] | None = None

    def handle(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{APP_KEY}:{MASTER_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._error(401, 1004, "Authen failed")
        if self.refuse is not None:
            return self._error(*self.refuse)
        body = json.loads(request.get_data())
        self.pushes.append(body)
        answer = {"sendno": str(body["options"]["sendno"]), "msg_id": str(1828256757 + len(self.pushes))}
        return Response(json.dumps(answer), 200, content_type="application/json")

    @staticmethod
    def _error(status: int, code: int, message: str) -> Response:
        body = {"error": {"code": code, "message": message}, "msg_id": "0"}
        return Response(json.dumps(body), status, content_type="application/json")


@pytest.fixture
def fake_jpush(httpserver: HTTPServer) -> FakeJPush:
    fake = FakeJPush(httpserver)
    httpserver.expect_request("/v3/push", method="POST").respond_with_handler(fake.handle)
    return fake


@pytest.fixture
async def jpush(rt: Runtime, fake_jpush: FakeJPush, httpserver: HTTPServer) -> AsyncIterator[FakeJPush]:
    fake = fake_jpush
    before = rt.core.settings
    rt.core.settings = before.model_copy(
        update={
            "jpush_base_url": httpserver.url_for("/").rstrip("/"),
            "jpush_app_key": APP_KEY,
            "jpush_master_secret": SecretStr(MASTER_SECRET),
            "push_time_to_live_seconds": 3600,
        }
    )
    yield fake
    rt.core.settings = before


def _ctx(rt: Runtime) -> dict[str, Any]:
    return {"runtime": rt, "job_try": 1}


async def _register(api: Api, who: dict[str, str], platform: str, registration_id: str) -> dict[str, Any]:
    result = await api.gql(REGISTER, {"input": {"platform": platform, "registrationId": registration_id}}, headers=who)
    payload: dict[str, Any] = result["data"]["registerDevice"]
    return payload


async def _packed(api: Api, creds: Credentials) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paid order taken to PACKED by warehouse scans; returns the order and the push job it owes."""
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=3))
    await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=2), "S-1")}, headers=creds.wms_only)
    assert await outbox_rows(api, PUSH_JOB) == []  # picking is not worth a push
    packed = await api.gql(
        WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=1), "S-2")}, headers=creds.wms_only
    )
    assert packed["data"]["recordWarehouseEvent"]["order"]["status"] == "PACKED"
    jobs = await outbox_rows(api, PUSH_JOB)
    assert [j.payload["reason"] for j in jobs] == ["PACKED"]
    return order, jobs[0].payload


async def _notices(rt: Runtime) -> list[PushNotice]:
    async with rt.core.sessions() as session:
        return list((await session.exec(select(PushNotice))).all())


async def test_a_packed_order_is_pushed_once_to_every_device_of_its_buyer(
    api: Api, creds: Credentials, jpush: FakeJPush
) -> None:
    order, job = await _packed(api, creds)
    me = creds.customer(api.runtime, order["buyerUid"])
    assert (await _register(api, me, "ANDROID", "1a0018970a1b2c3d4e5"))["userErrors"] == []
    assert (await _register(api, me, "IOS", "141fe1da9e8c5e7a1b2"))["userErrors"] == []
    outcome = await push_order_update(_ctx(api.runtime), **job, now=NOON)
    assert outcome.startswith("sent")
    [push] = jpush.pushes
    assert push["platform"] == ["android", "ios"]
    assert sorted(push["audience"]["registration_id"]) == ["141fe1da9e8c5e7a1b2", "1a0018970a1b2c3d4e5"]
    android = push["notification"]["android"]
    assert "4102938475610293847" in android["alert"] and "已打包" in android["alert"]
    assert android["extras"] == {"orderNumber": "4102938475610293847", "status": "PACKED", "version": job["version"]}
    assert push["notification"]["ios"]["alert"]["body"] == android["alert"]
    assert push["options"]["time_to_live"] == 3600
    [notice] = await _notices(api.runtime)
    assert (notice.state, notice.provider_msg_id) == (NoticeState.SENT, "1828256758")

    again = await push_order_update(_ctx(api.runtime), **job, now=NOON)  # arq may run a job twice
    assert again.startswith(f"notice {notice.id} is SENT") and len(jpush.pushes) == 1


async def test_quiet_hours_hold_the_push_until_they_end(api: Api, creds: Credentials, jpush: FakeJPush) -> None:
    order, job = await _packed(api, creds)
    await _register(api, creds.customer(api.runtime, order["buyerUid"]), "ANDROID", "1a0018970a1b2c3d4e5")
    assert " is HELD " in await push_order_update(_ctx(api.runtime), **job, now=LATE)
    [notice] = await _notices(api.runtime)
    assert (notice.state, notice.due_at) == (NoticeState.HELD, MORNING)
    [deferred] = await outbox_rows(api, SEND_PUSH_JOB)
    assert deferred.payload == {"notice_id": notice.id}
    assert deferred.defer_seconds == (MORNING - LATE).total_seconds()
    assert notice.id is not None
    assert await send_push(_ctx(api.runtime), notice.id, now=LATE + timedelta(hours=1)) == "nothing to send"
    assert jpush.pushes == []
    assert (await send_push(_ctx(api.runtime), notice.id, now=MORNING)).startswith("sent")
    assert len(jpush.pushes) == 1
    assert (await _notices(api.runtime))[0].state == NoticeState.SENT


async def test_a_buyer_who_opted_out_gets_nothing_also_of_what_was_held(
    api: Api, creds: Credentials, jpush: FakeJPush
) -> None:
    order, job = await _packed(api, creds)
    me = creds.customer(api.runtime, order["buyerUid"])
    await _register(api, me, "ANDROID", "1a0018970a1b2c3d4e5")
    await push_order_update(_ctx(api.runtime), **job, now=LATE)
    opted = await api.gql(OPT_OUT, {"input": {"optedOut": True}}, headers=me)
    assert opted["data"]["setPushOptOut"] == {"optedOut": True, "userErrors": []}
    [notice] = await _notices(api.runtime)
    assert notice.id is not None
    assert await send_push(_ctx(api.runtime), notice.id, now=MORNING) == "nothing to send"
    [notice] = await _notices(api.runtime)
    assert (notice.state, notice.error) == (NoticeState.SKIPPED, "the buyer opted out of pushes")
    assert jpush.pushes == []


async def test_jpush_refusals_are_final_and_its_limits_worth_retrying(fake_jpush: FakeJPush) -> None:
    client = JPush(fake_jpush.server.url_for("/").rstrip("/"), APP_KEY, MASTER_SECRET, 60, False, 5.0)
    delivery = Delivery(7, ["141fe1da9e8c5e7a1b2"], ["ios"], "订单已发货", "您的订单 TB-1 已发货。", {"version": 3})
    assert await client.push(delivery) == "1828256758"
    assert fake_jpush.pushes[0]["notification"]["ios"]["alert"] == {
        "title": "订单已发货",
        "body": "您的订单 TB-1 已发货。",
    }
    assert "android" not in fake_jpush.pushes[0]["notification"] and fake_jpush.pushes[0]["options"]["sendno"] == 7
    fake_jpush.refuse = (429, 2002, "Rate limit exceeded")
    with pytest.raises(PushUnavailable, match="2002"):
        await client.push(delivery)
    fake_jpush.refuse = (503, 1030, "internal service timeout")
    with pytest.raises(PushUnavailable, match="1030"):
        await client.push(delivery)
    fake_jpush.refuse = (400, 1011, "cannot find user by this audience")
    with pytest.raises(PushRefused, match="cannot find user") as refused:
        await client.push(delivery)
    assert refused.value.code == 1011
    fake_jpush.refuse = None
    wrong = JPush(client.base_url, APP_KEY, "not-the-master-secret", 60, False, 5.0)
    with pytest.raises(PushRefused) as unauthorised:
        await wrong.push(delivery)
    assert unauthorised.value.code == 1004


async def test_devices_belong_to_the_buyer_who_registered_them_last(
    api: Api, creds: Credentials, jpush: FakeJPush
) -> None:
    one, other = creds.customer(api.runtime, "buyer-one"), creds.customer(api.runtime, "buyer-two")
    await _register(api, one, "ANDROID", "1a0018970a1b2c3d4e5")
    moved = await _register(api, other, "ANDROID", "1a0018970a1b2c3d4e5")
    assert moved["device"] == {"platform": "ANDROID", "registrationId": "1a0018970a1b2c3d4e5"}
    gone = await api.gql(UNREGISTER, {"input": {"registrationId": "1a0018970a1b2c3d4e5"}}, headers=one)
    assert gone["data"]["unregisterDevice"]["userErrors"] == [
        {"field": ["input", "registrationId"], "code": "NOT_FOUND"}
    ]
    bad = await _register(api, one, "ANDROID", "not a registration id!")
    assert bad["userErrors"][0]["code"] == "INVALID_REGISTRATION_ID"
    refused = await api.gql(REGISTER, {"input": {"platform": "IOS", "registrationId": "x" * 12}}, headers=creds.admin)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mine = await api.gql(UNREGISTER, {"input": {"registrationId": "1a0018970a1b2c3d4e5"}}, headers=other)
    assert mine["data"]["unregisterDevice"] == {"registrationId": "1a0018970a1b2c3d4e5", "userErrors": []}
    for n in range(DEVICES_PER_BUYER + 1):  # a buyer keeps the latest devices, not every phone ever used
        await _register(api, other, "IOS", f"1500000000000{n:02d}")
    async with api.runtime.core.sessions() as session:
        kept = [d.registration_id for d in await devices_of(session, "buyer-two")]
    assert len(kept) == DEVICES_PER_BUYER and "150000000000000" not in kept

    # a prediction that moves far is pushed, a small move is not
    order = await paid_order(api, creds)
    await _register(api, creds.customer(api.runtime, order["buyerUid"]), "ANDROID", "1a0018970a1b2c3d4e5")
    key = int(order["id"].rsplit("/", 1)[1])
    first = StoredPrediction(NOON, "SHIPPED", None, None, None, "BASELINE")
    async with api.runtime.core.sessions() as session, session.begin():
        await store_prediction(session, Outbox(), key, first, timedelta(minutes=60))
        near = StoredPrediction(NOON + timedelta(minutes=30), "SHIPPED", None, None, None, "BASELINE")
        await store_prediction(session, Outbox(), key, near, timedelta(minutes=60))
        far = StoredPrediction(NOON + timedelta(hours=3), "SHIPPED", None, None, None, "BASELINE")
        await store_prediction(session, Outbox(), key, far, timedelta(minutes=60))
    jobs = await outbox_rows(api, PUSH_JOB)
    assert [j.payload["reason"] for j in jobs] == ["ETA_MOVED"]
    assert (await push_order_update(_ctx(api.runtime), **jobs[0].payload, now=NOON)).startswith("sent")
    [push] = jpush.pushes
    assert push["notification"]["android"]["title"] == "预计时间有变"
    assert "预计 12月8日 15:00 发货" in push["notification"]["android"]["alert"]


async def test_a_subscription_filtered_to_packed_hears_of_packing_alone(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    app = create_app(runtime=api.runtime)
    query = """subscription($statuses: [OrderStatus!]) { orderUpdates(statuses: $statuses) {
      status snapshot order { id } } }"""
    async with serving(app) as url, GraphQLWs.open(url, creds.customer(api.runtime, order["buyerUid"])) as ws:
        op = await ws.subscribe(query, {"statuses": ["PACKED"]})
        everything = await ws.subscribe(query)
        assert (await ws.next(everything))["data"]["orderUpdates"]["status"] == "PAID"  # the snapshot
        now = utcnow()
        await request_ship(api, who, order["id"], now - timedelta(hours=3))
        await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(hours=2), "S-1")}, headers=creds.wms_only)
        await api.gql(WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=1), "S-2")}, headers=creds.wms_only)
        heard: dict[str, list[tuple[str, bool]]] = {op: [], everything: []}
        while len(heard[everything]) < 3:
            message = await ws.receive()
            update = message["payload"]["data"]["orderUpdates"]
            heard[message["id"]].append((update["status"], update["snapshot"]))
        assert heard[everything] == [("SHIP_REQUESTED", False), ("PICKED", False), ("PACKED", False)]
        if not heard[op]:
            heard[op].append(((m := (await ws.next(op))["data"]["orderUpdates"])["status"], m["snapshot"]))
        assert heard[op] == [("PACKED", False)]
