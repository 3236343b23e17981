"""What operators scrape about the deliveries that leave orderhub: partner webhook attempts, shipment
confirmations to the channels, and offline pushes, each counted by outcome after a real delivery to the local
fakes the other tests use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from domain.push.models import NoticeState
from runtime.process import Runtime
from runtime.queues import WEBHOOKS
from sim.channel_servers import Act, ChannelServer, make_server, running
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import callers
from tests.integration.test_confirmations import KEYS, settle, ship, shop
from tests.integration.test_observe import Samples, scrape, value
from tests.integration.test_offline_push import (
    APP_KEY,
    LATE,
    MASTER_SECRET,
    MORNING,
    NOON,
    OPT_OUT,
    FakeJPush,
    _notices,
    _packed,
)
from tests.integration.test_offline_push import _register as register_device
from tests.integration.test_webhooks import _register, _settled, _submit, _until, _workers
from tests.integration.webhook_receivers import Receivers, start_receivers
from workers.push_jobs import push_order_update, send_push


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    started = start_receivers()
    yield started
    started.server.stop()


@pytest.fixture
def channels() -> Iterator[ChannelServer]:
    with running(make_server(KEYS)) as started:
        yield started


async def scraped(api: Api, creds: Credentials) -> Samples:
    response = await api.client.get("/metrics", headers=creds.admin)
    assert response.status_code == 200
    return scrape(response.text)


class Deltas:
    def __init__(self, before: Samples, after: Samples) -> None:
        self.before, self.after = before, after

    def __call__(self, name: str, **labels: str) -> float:
        return value(self.after, name, **labels) - value(self.before, name, **labels)


@pytest.fixture
async def settings_kept(rt: Runtime) -> AsyncIterator[Runtime]:
    kept = rt.core.settings
    yield rt
    rt.core.settings = kept


async def test_webhook_attempts_are_counted_by_outcome_and_a_disabled_endpoint_once(
    api: Api, creds: Credentials, receivers: Receivers, settings_kept: Runtime
) -> None:
    rt = settings_kept
    rt.core.settings = rt.core.settings.model_copy(
        update={"webhook_disable_after_failures": 1, "webhook_disable_after_hours": 0}
    )
    receivers.received.clear()
    ok = await _register(rt, receivers, "/ok/a", ["order.status_changed"])
    dead = await _register(rt, receivers, "/fail", ["order.status_changed"])
    before = await scraped(api, creds)
    await _submit(api, creds, "WH-M1")
    async with _workers(rt, WEBHOOKS):
        await _until(lambda: _settled(rt, ok, 1, "DELIVERED"))
        await _until(lambda: _settled(rt, dead, 1, "FAILED"))
    delta = Deltas(before, await scraped(api, creds))

    assert delta("orderhub_webhook_attempts_total", outcome="delivered") == 1
    assert delta("orderhub_webhook_attempts_total", outcome="failed") == 1
    assert delta("orderhub_webhook_attempts_total", outcome="retrying") == 0
    assert delta("orderhub_webhook_endpoints_disabled_total") == 1
    assert delta("orderhub_webhook_attempt_seconds_count") == 2


async def test_confirmation_attempts_are_counted_by_channel_and_outcome(
    api: Api, creds: Credentials, channels: ChannelServer, settings_kept: Runtime
) -> None:
    rt = settings_kept
    rt.core.settings = rt.core.settings.model_copy(
        update={"taobao_api_url": channels.url, "douyin_api_url": channels.url, "confirmation_backoff_seconds": 0}
    )
    who = await callers(api)
    await shop(api, creds, "TAOBAO")
    await shop(api, creds, "DOUYIN")
    channels.script["6920000000000000009"] = [Act.BUSY]
    before = await scraped(api, creds)
    await ship(api, creds, who, "TAOBAO", "4102938475610290009", "SF1402938475699")
    await ship(api, creds, who, "DOUYIN", "6920000000000000009", "YT2000000000009")
    await settle(rt)
    delta = Deltas(before, await scraped(api, creds))

    assert delta("orderhub_confirmation_attempts_total", channel="TAOBAO", outcome="confirmed") == 1
    assert delta("orderhub_confirmation_attempts_total", channel="DOUYIN", outcome="retrying") == 1
    assert delta("orderhub_confirmation_attempts_total", channel="DOUYIN", outcome="confirmed") == 1
    assert delta("orderhub_confirmation_attempt_seconds_count", channel="DOUYIN") == 2


async def test_offline_pushes_are_counted_sent_held_failed_and_dropped(
    api: Api, creds: Credentials, httpserver: HTTPServer, settings_kept: Runtime
) -> None:
    rt = settings_kept
    fake = FakeJPush(httpserver)
    httpserver.expect_request("/v3/push", method="POST").respond_with_handler(fake.handle)
    rt.core.settings = rt.core.settings.model_copy(
        update={
            "jpush_base_url": httpserver.url_for("/").rstrip("/"),
            "jpush_app_key": APP_KEY,
            "jpush_master_secret": SecretStr(MASTER_SECRET),
        }
    )
    order, job = await _packed(api, creds)
    me = creds.customer(rt, order["buyerUid"])
    await register_device(api, me, "ANDROID", "1a0018970a1b2c3d4e5")
    ctx = {"runtime": rt, "job_try": 1}
    before = await scraped(api, creds)
    assert (await push_order_update(ctx, **job, now=NOON)).startswith("sent")
    assert " is SENT " in await push_order_update(ctx, **job, now=NOON)  # a job run twice counts nothing twice
    later = {**job, "version": job["version"] + 1}  # the order's next change, owed while the merchant sleeps
    assert " is HELD " in await push_order_update(ctx, **later, now=LATE)
    assert " is HELD " in await push_order_update(ctx, **later, now=LATE)
    fake.refuse = (400, 1011, "cannot find user by this audience")
    refused = {**job, "version": job["version"] + 2}
    assert (await push_order_update(ctx, **refused, now=NOON)).startswith("failed")
    opted = await api.gql(OPT_OUT, {"input": {"optedOut": True}}, headers=me)
    assert opted["data"]["setPushOptOut"]["userErrors"] == []
    [held] = [n for n in await _notices(rt) if n.state == NoticeState.HELD]
    assert held.id is not None
    assert await send_push(ctx, held.id, now=MORNING) == "nothing to send"
    assert await send_push(ctx, held.id, now=MORNING) == "nothing to send"
    delta = Deltas(before, await scraped(api, creds))

    assert len(fake.pushes) == 1
    assert [delta("orderhub_offline_pushes_total", outcome=o) for o in ("sent", "held", "failed", "dropped")] == [
        1, 1, 1, 1,
    ]  # fmt: skip
    assert delta("orderhub_offline_push_seconds_count") == 2
