"""Courier tracking through Kuaidi100: subscriptions sent to a local fake poll server, signed pushes received over
HTTP, and the orders no courier has a record of; on both databases."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlmodel import col, select
from werkzeug import Request, Response

from api.graphql.ids import decode_gid
from domain.clock import utcnow
from domain.fulfilment.kuaidi100 import push_sign
from domain.fulfilment.models import CourierSubscription, FulfilmentEvidence
from domain.fulfilment.tracking import open_missing_courier_records
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.orders.models import Order
from domain.outbox.service import Outbox
from runtime.courier_tracking import subscribe_shipped
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import (
    WAREHOUSE,
    callers,
    confirmation,
    exceptions,
    paid_order,
    request_ship,
)

SALT = "kd100-salt-7f3a"
KEY = "kd100-authorization-key"
TRACKING = "SF1402938475612"


@contextlib.asynccontextmanager
async def kuaidi100(api: Api, httpserver: HTTPServer) -> AsyncIterator[list[dict[str, Any]]]:
    """Kuaidi100's poll endpoint, checking the subscribe form as Kuaidi100 reads it; yields what it accepted."""
    subscribed: list[dict[str, Any]] = []

    def poll(request: Request) -> Response:
        param = json.loads(request.form["param"])
        if request.form.get("schema") != "json" or param.get("key") != KEY:
            return Response(json.dumps({"result": False, "returnCode": "601", "message": "POLL:KEY已过期"}))
        subscribed.append(param)
        return Response(json.dumps({"result": True, "returnCode": "200", "message": "提交成功"}, ensure_ascii=False))

    httpserver.expect_request("/poll", method="POST").respond_with_handler(poll)
    core = api.runtime.core
    original = core.settings
    core.settings = original.model_copy(
        update={
            "kuaidi100_poll_url": httpserver.url_for("/poll"),
            "kuaidi100_key": SecretStr(KEY),
            "kuaidi100_salt": SecretStr(SALT),
            "kuaidi100_callback_url": "https://orderhub.example/couriers/kuaidi100",
        }
    )
    try:
        yield subscribed
    finally:
        core.settings = original
        httpserver.clear()


@pytest.fixture
async def tracked(api: Api, httpserver: HTTPServer) -> AsyncIterator[list[dict[str, Any]]]:
    async with kuaidi100(api, httpserver) as subscribed:
        yield subscribed


async def shipped_order(api: Api, creds: Credentials) -> int:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=3))
    result = await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(hours=2), "OB-1")}, headers=creds.wms_only)
    assert result["data"]["recordWarehouseEvent"]["order"]["status"] == "SHIPPED", result
    return decode_gid(order["id"], "Order")[1]


def push(entries: list[tuple[str, str, str]], number: str = TRACKING, status: str = "polling", sign: str = "") -> bytes:
    """A push as Kuaidi100 sends it (resultv2=1): newest entry first."""
    data = [{"context": c, "time": t, "ftime": t, "status": s, "areaName": "上海市"} for c, t, s in entries]
    param = json.dumps(
        {"status": status, "billstatus": "got", "message": "" if data else "3天查询无记录", "autoCheck": "0",
         "lastResult": {"message": "ok", "state": "0", "status": "200", "condition": "F00", "ischeck": "0",
                        "com": "shunfeng", "nu": number, "data": data}},
        ensure_ascii=False,
    )  # fmt: skip
    return urlencode({"param": param, "sign": sign or push_sign(param, SALT)}).encode()


async def post_push(api: Api, body: bytes) -> tuple[int, dict[str, Any]]:
    response = await api.client.post(
        "/couriers/kuaidi100", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return response.status_code, response.json()


def history(hours_ago: float) -> list[tuple[str, str, str]]:
    """Beijing times, newest first."""
    at = [(utcnow() + timedelta(hours=8 - h)).strftime("%Y-%m-%d %H:%M:%S") for h in (hours_ago, 1.5, 1.9)]
    return [("已签收，签收人：本人", at[0], "签收"), ("快件到达 上海转运中心", at[1], "在途"),
            ("顺丰速运 已收取快件", at[2], "揽收")]  # fmt: skip


async def test_shipped_parcels_are_subscribed_once_and_pushes_move_the_order(
    tracked: list[dict[str, Any]], api: Api, creds: Credentials
) -> None:
    order_id = await shipped_order(api, creds)
    assert await subscribe_shipped(api.runtime.core) == {"accepted": 1}
    assert await subscribe_shipped(api.runtime.core) == {}
    [param] = tracked
    assert (param["company"], param["number"], param["parameters"]["salt"]) == ("shunfeng", TRACKING, SALT)
    assert param["parameters"]["callbackurl"] == "https://orderhub.example/couriers/kuaidi100"

    signed = history(0.5)
    assert await post_push(api, push(signed[1:])) == (200, {"result": True, "returnCode": "200", "message": "成功"})
    for _ in range(2):  # the next push repeats the history: only the new entry is new evidence
        status, _reply = await post_push(api, push(signed))
        assert status == 200
    async with api.runtime.core.sessions() as session:
        order = await session.get(Order, order_id)
        evidence = (await session.exec(select(FulfilmentEvidence.kind).where(FulfilmentEvidence.source == "CARRIER")
                                        .order_by(col(FulfilmentEvidence.id)))).all()  # fmt: skip
        messages = (
            await session.exec(select(InboundMessage).where(InboundMessage.source == "couriers:kuaidi100"))
        ).all()
        [subscription] = (await session.exec(select(CourierSubscription))).all()
    assert order is not None and order.status == "DELIVERED"
    assert list(evidence) == ["CARRIER_PICKED_UP", "CARRIER_IN_TRANSIT", "CARRIER_DELIVERED"]
    assert [(m.signature, m.outcome) for m in messages] == [(SignatureVerdict.VALID, Outcome.APPLIED)] * 3
    assert (subscription.accepted, subscription.order_id) == (True, order_id)


async def test_bad_sign_and_unknown_numbers_have_defined_outcomes(
    tracked: list[dict[str, Any]], api: Api, creds: Credentials
) -> None:
    await shipped_order(api, creds)
    status, reply = await post_push(api, push(history(0.5), sign="0" * 32))
    assert (status, reply["result"]) == (401, False)
    for _ in range(2):
        assert (await post_push(api, push(history(0.5), number="YT0000000001")))[0] == 200
    async with api.runtime.core.sessions() as session:
        messages = (await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).all()
        carrier = (await session.exec(select(FulfilmentEvidence).where(FulfilmentEvidence.source == "CARRIER"))).all()
    pushes = [(m.signature, m.outcome, m.error) for m in messages if m.source == "couriers:kuaidi100"]
    assert pushes[0] == (SignatureVerdict.INVALID, Outcome.REJECTED, "sign does not match MD5(param + salt)")
    assert pushes[1:] == [(SignatureVerdict.VALID, Outcome.APPLIED, "unknown tracking number")] * 2
    assert carrier == []
    unknown = [e for e in await exceptions(api) if e.kind == "UNKNOWN_ORDER"]
    assert len(unknown) == 1 and "YT0000000001" in unknown[0].summary


async def test_shipped_with_no_courier_record_opens_one_case(
    tracked: list[dict[str, Any]], api: Api, creds: Credentials
) -> None:
    order_id = await shipped_order(api, creds)
    async with api.runtime.core.sessions() as session, session.begin():
        assert await open_missing_courier_records(session, Outbox(), timedelta(hours=3), utcnow()) == 0
        assert await open_missing_courier_records(session, Outbox(), timedelta(hours=1), utcnow()) == 1
        assert await open_missing_courier_records(session, Outbox(), timedelta(hours=1), utcnow()) == 0
    assert (await post_push(api, push([], status="abort")))[0] == 200  # Kuaidi100 gave up too: no second case
    cases = [(e.kind, e.order_id) for e in await exceptions(api) if e.kind == "NO_COURIER_RECORD"]
    assert cases == [("NO_COURIER_RECORD", order_id)]
