"""Shipment confirmations reach the channels' (local, fake) open platforms after commit, through the outbox and
arq: signed as each channel checks, once per parcel, retried on what is worth retrying, and every other outcome
recorded where a person sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from domain.clock import utcnow
from domain.confirmations.models import ConfirmationState, ShipmentConfirmation
from domain.fulfilment.models import OrderException
from domain.orders.models import OrderEvent
from domain.outbox.models import OutboxMessage
from domain.shops.models import Shop
from domain.shops.service import CREDENTIALS_REFUSED_JOB
from runtime.process import Runtime
from runtime.queues import DEFAULT, OUTBOUND
from sim.channel_servers import Act, ChannelServer, ShopKeys, make_server, running
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, Callers, callers, confirmation, request_ship
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.test_parcels import parcel_out
from workers.confirmation_jobs import confirm_shipment, sweep_confirmations
from workers.settings import create_worker

KEYS = ShopKeys()
CREATE_SHOP = """mutation($input: CreateShopInput!) { createShop(input: $input) {
  shop { id channel code name credentialsSetAt credentialsFingerprint credentialsRefusedAt } userErrors { code } } }"""
SET_CREDENTIALS = """mutation($input: SetShopCredentialsInput!) { setShopCredentials(input: $input) {
  shop { id credentialsSetAt credentialsFingerprint credentialsRefusedAt credentialsRefusal }
  resumedConfirmations userErrors { field code } } }"""

LAST_MESSAGE = """query($id: ID!) { order(id: $id) { channelConfirmations { state lastCode lastMessage } } }"""
SYSTEM_LOG = (
    """query($id: ID!) { order(id: $id) { timeline { systemLog(first: 50) { edges { node { type decision } } } } } }"""
)
STAFF_VIEW = (
    """query($id: ID!) { order(id: $id) { channelConfirmations { channel trackingNumber state attempts lastCode } } }"""
)


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with running(make_server(KEYS, slow_seconds=0.6)) as started:
        yield started


@pytest.fixture
async def who(api: Api) -> Callers:
    return await callers(api)


@pytest.fixture
async def wired(rt: Runtime, server: ChannelServer) -> AsyncIterator[Runtime]:
    """The runtime pointed at the fake platforms, retrying at once (no back-off), with a WeCom robot."""
    before = rt.core.settings
    rt.core.settings = before.model_copy(
        update={
            "taobao_api_url": server.url, "douyin_api_url": server.url, "wechat_api_url": server.url,
            "amazon_api_url": server.url, "confirmation_backoff_seconds": 0, "confirmation_max_attempts": 6,
            "channel_call_timeout_seconds": 0.3, "wecom_webhook": f"{server.url}/cgi-bin/webhook/send?key=k",
        }
    )  # fmt: skip
    yield rt
    rt.core.settings = before


async def shop(
    api: Api, creds: Credentials, channel: str, code: str = "main", *, token: str = KEYS.access_token
) -> str:
    created = await api.gql(CREATE_SHOP, {"input": {"channel": channel, "code": code, "name": f"{channel} main"}},
                            headers=creds.admin)  # fmt: skip
    gid: str = created["data"]["createShop"]["shop"]["id"]
    keys = {
        "appKey": KEYS.app_key,
        "appSecret": KEYS.app_secret,
        "accessToken": token,
        "marketplaceId": "A1VC38T7YXB528",
    }
    result = await api.gql(SET_CREDENTIALS, {"input": {"shopId": gid, **keys}}, headers=creds.admin)
    assert result["data"]["setShopCredentials"]["userErrors"] == []
    return gid


async def ship(
    api: Api, creds: Credentials, who: Callers, channel: str, order_id: str, tracking: str, **extra: Any
) -> str:
    """A paid order, a ship request an hour ago, and the warehouse's outbound half an hour ago: SHIPPED."""
    placed = utcnow() - timedelta(hours=6)
    order = order_input(order_id, channel=channel, status="PAID", placedAt=placed.isoformat(),
                        paidAt=(placed + timedelta(minutes=2)).isoformat(), **extra)  # fmt: skip
    gid = (await api.gql(SUBMIT_ORDER, {"input": order}, headers=creds.writer))["data"]["submitOrder"]["order"]["id"]
    await request_ship(api, who, gid, utcnow() - timedelta(hours=1))
    body = confirmation(utcnow() - timedelta(minutes=30), f"DO-{order_id}", code=order_id, expressCode=tracking)
    shipped = await api.gql(WAREHOUSE, {"input": body}, headers=creds.wms_only)
    assert shipped["data"]["recordWarehouseEvent"]["order"]["status"] == "SHIPPED", shipped
    return str(gid)


async def settle(rt: Runtime, rounds: int = 12) -> None:
    """Relay what is committed to arq, run the default queue's jobs, again while confirmations are pending."""
    for _ in range(rounds):
        await rt.relay.drained()
        for queue in (OUTBOUND, DEFAULT):  # the calls, then the alerts
            worker = create_worker(rt, queue, burst=True, poll_delay=0.02)
            try:
                await worker.async_run()
            finally:
                await worker.close()
        async with rt.core.sessions() as session:
            pending = (await session.exec(select(ShipmentConfirmation).where(
                ShipmentConfirmation.state == ConfirmationState.PENDING))).first()  # fmt: skip
            unsent = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))).first()
        queued = await rt.redis.zcard(DEFAULT.name) + await rt.redis.zcard(OUTBOUND.name)
        if pending is None and unsent is None and not queued:
            return


async def rows(rt: Runtime, model: Any) -> list[Any]:
    async with rt.core.sessions() as session:
        return list((await session.exec(select(model).order_by(col(model.id)))).all())


async def attempts_logged(rt: Runtime) -> list[dict[str, Any]]:
    async with rt.core.sessions() as session:
        query = select(OrderEvent).where(OrderEvent.type == "CHANNEL_CONFIRMATION").order_by(col(OrderEvent.id))
        return [event.data for event in (await session.exec(query)).all()]


async def test_a_shipped_order_is_confirmed_once_and_the_api_never_shows_the_credentials(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    gid = await shop(api, creds, "TAOBAO", "orderhub旗舰店")
    order = await ship(api, creds, who, "TAOBAO", "4102938475610293847", "SF1402938475612")
    await settle(wired)

    assert [(s.channel, s.order_id, s.tracking, s.signed, s.act) for s in server.ledger.calls] == [
        ("TAOBAO", "4102938475610293847", "SF1402938475612", True, Act.OK)
    ]
    [row] = await rows(wired, ShipmentConfirmation)
    assert (row.state, row.attempts, row.last_code) == ("CONFIRMED", 1, "OK")
    [logged] = await attempts_logged(wired)
    assert (logged["attempt"], logged["verdict"], logged["state"]) == (1, "CONFIRMED", "CONFIRMED")
    assert (
        logged["decision"]
        == "shipment confirmation to TAOBAO, attempt 1: CONFIRMED OK (shipping.is_success); CONFIRMED"
    )
    await confirm_shipment({"runtime": wired}, row.id)  # arq delivering the job again sends nothing
    assert len(server.ledger.calls) == 1
    seen = await api.gql(STAFF_VIEW, {"id": order}, headers=creds.cs)
    assert seen["data"]["order"]["channelConfirmations"] == [
        {
            "channel": "TAOBAO",
            "trackingNumber": "SF1402938475612",
            "state": "CONFIRMED",
            "attempts": 1,
            "lastCode": "OK",
        }
    ]

    listed = await api.gql("{ shops(first: 5) { edges { node { id code credentialsFingerprint } } } }",
                           headers=creds.admin)  # fmt: skip
    assert listed["data"]["shops"]["edges"][0]["node"]["id"] == gid
    assert KEYS.app_secret not in str(listed) and KEYS.access_token not in str(listed)
    async with wired.core.sessions() as session:
        stored = (await session.exec(select(Shop))).one()
    assert stored.credentials is not None and KEYS.access_token.encode() not in stored.credentials
    refused = await api.gql("{ shops(first: 5) { edges { node { id } } } }", headers=creds.cs)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_order_is_confirmed_through_the_shop_it_names(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    await shop(api, creds, "TAOBAO", "a", token="not-this-one")
    named = await shop(api, creds, "TAOBAO", "b")
    await ship(api, creds, who, "TAOBAO", "4102938475610290010", "SF1400000000010", shopCode="b")
    await ship(api, creds, who, "TAOBAO", "4102938475610290011", "SF1400000000011")
    await settle(wired)

    first, second = await rows(wired, ShipmentConfirmation)
    assert (first.shop_id, first.state) == (int(named.rsplit("/", 1)[1]), "CONFIRMED")
    assert (second.shop_id, second.state) == (None, "NO_SHOP")
    [opened] = await rows(wired, OrderException)
    assert (opened.kind, opened.order_id, opened.details["code"]) == (
        "SHIPMENT_NOT_CONFIRMED",
        second.order_id,
        "NO_SHOP",
    )
    assert [(s.order_id, s.signed) for s in server.ledger.calls] == [("4102938475610290010", True)]


async def test_answers_worth_another_try_are_retried_until_the_channel_confirms(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    await shop(api, creds, "DOUYIN")
    server.script["6920000000000000001"] = [Act.BUSY, Act.HTML, Act.HTTP_429_BARE, Act.TRUNCATED, Act.MALFORMED]
    await ship(api, creds, who, "DOUYIN", "6920000000000000001", "YT2000000000001")
    await settle(wired)

    logged = await attempts_logged(wired)
    assert [(a["verdict"], a["code"]) for a in logged] == [
        ("TRANSIENT", "20000:isp.service-error"),
        ("TRANSIENT", "HTML_ERROR_PAGE_502"),
        ("RATE_LIMITED", "HTTP_429"),
        ("TRANSIENT", "TRUNCATED_ANSWER"),
        ("TRANSIENT", "MALFORMED_ANSWER_200"),
        ("CONFIRMED", "10000"),
    ]
    assert all(seen.signed for seen in server.ledger.calls)
    [row] = await rows(wired, ShipmentConfirmation)
    assert (row.state, row.attempts) == ("CONFIRMED", 6)
    assert await rows(wired, OrderException) == []


async def test_a_timeout_that_did_reach_the_channel_ends_as_already_shipped(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    await shop(api, creds, "TAOBAO")
    server.script["4102938475610290001"] = [Act.TIMEOUT]
    gid = await ship(api, creds, who, "TAOBAO", "4102938475610290001", "SF1400000000001")
    await settle(wired)

    logged = await attempts_logged(wired)
    assert [(a["verdict"], a["code"]) for a in logged] == [
        ("TRANSIENT", "TIMEOUT"),
        ("ALREADY_CONFIRMED", "isv.logistics-offline-service-error:B04"),
    ]
    timed_out = "shipment confirmation to TAOBAO, attempt 1: TRANSIENT TIMEOUT (no answer within 0.3 s); again in 0 s"
    assert logged[0]["decision"] == timed_out  # the English machine readers parse, as it always was

    async def decided(language: str) -> list[str]:
        answer = await api.gql(SYSTEM_LOG, {"id": gid}, headers={**creds.admin, "Accept-Language": language})
        edges = answer["data"]["order"]["timeline"]["systemLog"]["edges"]
        return [e["node"]["decision"] for e in edges if e["node"]["type"] == "CHANNEL_CONFIRMATION"]

    first, second = await decided("zh-CN")
    assert first == "向 TAOBAO 回传发货，第 1 次：TRANSIENT TIMEOUT（0.3 秒内无应答）；0 秒后重试"
    assert second.startswith("向 TAOBAO 回传发货，第 2 次：ALREADY_CONFIRMED isv.logistics-offline-service-error:B04（")
    assert second.endswith("）；CONFIRMED")  # the channel's own words in between, as it gave them
    assert (await decided("en"))[0] == timed_out
    [row] = await rows(wired, ShipmentConfirmation)
    assert row.state == "CONFIRMED"
    assert len(server.ledger.accepted) == 1
    assert row.sentences is None and row.last_message  # the channel's words replaced orderhub's "no answer within"


REFUSALS = [
    ("DOUYIN", "6920000000000000002", Act.REFUSED, "50002:isv.business-failed:10026"),
    ("TAOBAO", "4102938475610290002", Act.UNKNOWN, "isv.brand-new-error:Z99"),
    ("WECHAT_CHANNELS", "3705115058471208192", Act.CLOSED, "10020012"),
    ("AMAZON", "113-1234567-1234567", Act.REFUSED, "InvalidInput"),
]


async def test_a_refusal_opens_an_exception_with_the_channels_code(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    for n, (channel, order_id, act, _) in enumerate(REFUSALS):
        await shop(api, creds, channel)
        server.script[order_id] = [act]
        await ship(api, creds, who, channel, order_id, f"SF140000000001{n}")
    await settle(wired)

    assert sorted((s.channel, s.signed, s.act) for s in server.ledger.calls) == sorted(
        (channel, True, act) for channel, _, act, _ in REFUSALS
    )
    confirmations = await rows(wired, ShipmentConfirmation)
    assert [row.state for row in confirmations] == ["REFUSED"] * len(REFUSALS)
    opened = {e.order_id: e for e in await rows(wired, OrderException) if e.kind == "SHIPMENT_CONFIRMATION_REFUSED"}
    for row, (_, _, _, code) in zip(confirmations, REFUSALS, strict=True):
        assert opened[row.order_id].details["code"] == code and opened[row.order_id].details["message"]


async def test_attempts_run_out_into_an_exception(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    await shop(api, creds, "AMAZON")
    server.script["113-0000000-0000001"] = [Act.BUSY] * 6
    await ship(api, creds, who, "AMAZON", "113-0000000-0000001", "SF1400000000003")
    await settle(wired)

    [row] = await rows(wired, ShipmentConfirmation)
    assert (row.state, row.attempts, row.last_code) == ("GAVE_UP", 6, "HTTP_503")
    [opened] = await rows(wired, OrderException)
    assert (opened.kind, opened.details["attempts"]) == ("SHIPMENT_NOT_CONFIRMED", 6)


async def test_refused_credentials_alert_once_park_the_shop_and_new_ones_resume_it(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    gid = await shop(api, creds, "WECHAT_CHANNELS", token="stale-token")
    await ship(api, creds, who, "WECHAT_CHANNELS", "3705115058471200001", "SF1400000000004")
    await ship(api, creds, who, "WECHAT_CHANNELS", "3705115058471200002", "SF1400000000005")
    await settle(wired)

    assert [row.state for row in await rows(wired, ShipmentConfirmation)] == ["WAITING_FOR_CREDENTIALS"] * 2
    assert len(server.ledger.alerts) == 1 and "42001" in server.ledger.alerts[0]
    alerts = [r for r in await rows(wired, OutboxMessage) if r.target == CREDENTIALS_REFUSED_JOB]
    assert len(alerts) == 1
    keys = {"shopId": gid, "accessToken": KEYS.access_token}
    result = await api.gql(SET_CREDENTIALS, {"input": keys}, headers=creds.admin)
    payload = result["data"]["setShopCredentials"]
    assert payload["resumedConfirmations"] == 2 and payload["shop"]["credentialsRefusedAt"] is None
    await settle(wired)

    assert [row.state for row in await rows(wired, ShipmentConfirmation)] == ["CONFIRMED"] * 2
    assert len(server.ledger.alerts) == 1


async def test_credentials_missing_what_the_channel_needs_are_refused(
    api: Api, creds: Credentials, rt: Runtime
) -> None:
    created = await api.gql(CREATE_SHOP, {"input": {"channel": "DOUYIN", "code": "4463798", "name": "d"}},
                            headers=creds.admin)  # fmt: skip
    gid = created["data"]["createShop"]["shop"]["id"]
    again = await api.gql(CREATE_SHOP, {"input": {"channel": "DOUYIN", "code": "4463798", "name": "d"}},
                          headers=creds.admin)  # fmt: skip
    assert again["data"]["createShop"]["userErrors"] == [{"code": "DUPLICATE"}]
    result = await api.gql(SET_CREDENTIALS, {"input": {"shopId": gid, "accessToken": "t"}}, headers=creds.admin)
    errors = result["data"]["setShopCredentials"]["userErrors"]
    assert errors == [
        {"field": ["input", "appKey"], "code": "REQUIRED"},
        {"field": ["input", "appSecret"], "code": "REQUIRED"},
    ]


@pytest.mark.parametrize("left", ["PENDING", "WAITING_FOR_CREDENTIALS"])
async def test_a_confirmation_whose_job_was_lost_is_sent_by_the_sweeper(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer, left: str
) -> None:
    """Its arq job failed for good, or it was parked just after new credentials had resumed its shop."""
    await shop(api, creds, "DOUYIN")
    await ship(api, creds, who, "DOUYIN", "6920000000000000009", "YT2000000000009")
    await wired.relay.drained()
    await wired.redis.flushdb()  # the job is gone, as after a worker spent its tries during an outage
    ctx = {"runtime": wired}
    assert await sweep_confirmations(ctx) == 0  # not stalled yet: its back-off could still be running
    async with wired.core.sessions() as session, session.begin():
        await session.exec(update(ShipmentConfirmation).values(state=left, updated_at=utcnow() - timedelta(hours=3)))
    assert await sweep_confirmations(ctx) == 1
    await settle(wired)

    [row] = await rows(wired, ShipmentConfirmation)
    assert (row.state, row.attempts) == ("CONFIRMED", 1)
    assert await sweep_confirmations(ctx) == 0


SPLIT = [
    ("TAOBAO", "4102938475610290077", ["split:SKU-TEA-001", "split:SKU-CUP-002"]),
    ("AMAZON", "113-0000000-0000077", ["1:SKU-TEA-001x1", "2:SKU-CUP-002x1"]),
    ("WECHAT_CHANNELS", "3718000000000000077", ["SF100000001,SF200000002"]),
]


@pytest.mark.parametrize(("channel", "order_id", "told"), SPLIT)
async def test_an_order_shipped_in_two_parcels_is_confirmed_per_parcel_where_the_channel_takes_it(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer,
    channel: str, order_id: str, told: list[str],
) -> None:  # fmt: skip
    await shop(api, creds, channel)
    placed = utcnow() - timedelta(hours=6)
    order = order_input(order_id, channel=channel, status="PAID", placedAt=placed.isoformat(),
                        paidAt=(placed + timedelta(minutes=2)).isoformat())  # fmt: skip
    gid = (await api.gql(SUBMIT_ORDER, {"input": order}, headers=creds.writer))["data"]["submitOrder"]["order"]["id"]
    await request_ship(api, who, gid, utcnow() - timedelta(hours=3))
    parcels = [("WH-SH-01", "SF100000001", "SKU-TEA-001"), ("WH-BJ-02", "SF200000002", "SKU-CUP-002")]
    for n, (warehouse, tracking, sku) in enumerate(parcels):
        body = parcel_out(warehouse, f"OB-{n}", tracking, sku, utcnow() - timedelta(hours=2 - n), code=order_id)
        done = await api.gql(WAREHOUSE, {"input": body}, headers=creds.wms_only)
        assert done["data"]["recordWarehouseEvent"]["order"]["status"] == ("SHIPPED" if n else "PARTIALLY_SHIPPED")
        await settle(wired)  # a channel told per parcel hears of the first while the second is still to leave

    calls = [(s.channel, s.order_id, s.tracking, s.parcel) for s in server.ledger.calls]
    trackings = ["SF100000001", "SF200000002"][: len(told)]
    assert calls == [(channel, order_id, t, what) for t, what in zip(trackings, told, strict=True)]
    confirmed = await rows(wired, ShipmentConfirmation)
    assert [(r.tracking_number, r.state) for r in confirmed] == [(t, "CONFIRMED") for t in trackings]
    await settle(wired)
    assert len(server.ledger.calls) == len(told)  # once per (order, tracking number)


async def test_orderhubs_own_words_about_an_answer_read_in_the_callers_language(
    api: Api, creds: Credentials, who: Callers, wired: Runtime, server: ChannelServer
) -> None:
    await shop(api, creds, "AMAZON")
    gid = await ship(api, creds, who, "AMAZON", "113-0000000-0000042", "SF1400000000042")
    await settle(wired)

    async def seen(language: str) -> tuple[str, str, str]:
        answer = await api.gql(LAST_MESSAGE, {"id": gid}, headers={**creds.admin, "Accept-Language": language})
        [confirmation] = answer["data"]["order"]["channelConfirmations"]
        return confirmation["state"], confirmation["lastCode"], confirmation["lastMessage"]

    assert await seen("en") == ("CONFIRMED", "204", "shipment confirmed")
    assert await seen("zh-CN") == ("CONFIRMED", "204", "发货已确认")
    [row] = await rows(wired, ShipmentConfirmation)
    assert row.last_message == "shipment confirmed"  # the English stays for exports and logs
    async with wired.core.sessions() as session, session.begin():  # answered before orderhub's words were kept
        await session.exec(update(ShipmentConfirmation).values(last_message="confirmed earlier", sentences=None))
    assert await seen("zh-CN") == await seen("en") == ("CONFIRMED", "204", "confirmed earlier")
