"""Channel pull against the (local, fake) channels' order lists: pages recorded and applied as pushed payloads
are, the checkpoint moved only with a committed page, and every odd answer ending the run with a named outcome."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from api.graphql.ids import encode_gid
from domain.channels import taobao_api
from domain.channels.models import ChannelIntake
from domain.channels.service import record_payloads
from domain.clock import utcnow
from domain.intake.models import InboundMessage
from domain.orders.models import Order, OrderLine
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.outbox.models import OutboxMessage
from domain.pipeline.channel import ChannelMessage
from domain.pull.models import ShopPull
from domain.pull.service import PullOutcome, enable_pull
from domain.shops.credentials import Credentials
from domain.shops.models import Shop
from domain.shops.service import CREDENTIALS_REFUSED_JOB, create_shop, set_credentials
from runtime.channel_pull import shop_puller
from runtime.process import Runtime
from runtime.queues import OUTBOUND, queue_of
from sim.channel_servers import Act, ChannelServer, ShopKeys, douyin_order, make_server, running, stock, taobao_trade
from tests.conftest import Api
from tests.conftest import Credentials as ApiCredentials
from workers.pull_jobs import pull_channels, pull_shop

KEYS = ShopKeys()


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with running(make_server(KEYS)) as started:
        yield started


@pytest.fixture
async def wired(rt: Runtime, server: ChannelServer) -> AsyncIterator[Runtime]:
    before = rt.core.settings
    rt.core.settings = before.model_copy(
        update={
            "taobao_api_url": server.url, "douyin_api_url": server.url, "amazon_api_url": server.url,
            "channel_call_timeout_seconds": 0.5, "pull_backoff_seconds": 0, "pull_max_attempts": 3,
            "pull_page_size": 100,
        }
    )  # fmt: skip
    yield rt
    rt.core.settings = before


async def shop(rt: Runtime, channel: str, code: str = "main", token: str = KEYS.access_token) -> int:
    creds = Credentials(KEYS.app_key, KEYS.app_secret, token, marketplace_id="ATVPDKIKX0DER")
    async with rt.core.sessions() as session, session.begin():
        made = await create_shop(session, channel, code, f"{channel} {code}")
        assert made.id is not None
        await set_credentials(session, rt.core.vault, made.id, creds, "staff:test")
        await enable_pull(session, made.id)
        return made.id


async def pull_row(rt: Runtime, shop_id: int) -> ShopPull:
    async with rt.core.sessions() as session:
        row = await session.get(ShopPull, shop_id)
        assert row is not None
        return row


async def count(rt: Runtime, table: type) -> int:
    async with rt.core.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_taobao_pages_become_orders_and_the_checkpoint_follows(wired: Runtime, server: ChannelServer) -> None:
    stock(server, "TAOBAO", 250, utcnow() - timedelta(hours=3))
    shop_id = await shop(wired, "TAOBAO")
    run = await shop_puller(wired).pull(shop_id)
    assert (run.outcome, run.pages, run.orders, run.applied) == (PullOutcome.CAUGHT_UP, 3, 250, 250)
    assert await count(wired, Order) == 250 and await count(wired, InboundMessage) == 250
    assert await count(wired, ChannelIntake) == 250  # the raw mirror and the intake record, as for a push
    row = await pull_row(wired, shop_id)
    assert row.checkpoint is not None and utcnow() - row.checkpoint < timedelta(minutes=1)
    assert (row.cursor, row.last_outcome, row.pages, row.orders) == (None, "CAUGHT_UP", 3, 250)
    # the next run starts an overlap before the checkpoint: nothing changed since, nothing new recorded
    again = await shop_puller(wired).pull(shop_id)
    assert (again.outcome, again.orders) == (PullOutcome.CAUGHT_UP, 0)
    assert await count(wired, InboundMessage) == 250


async def test_amazon_pages_by_next_token_and_fetches_each_orders_items(wired: Runtime, server: ChannelServer) -> None:
    wired.core.settings = wired.core.settings.model_copy(update={"pull_page_size": 2})
    stock(server, "AMAZON", 5, utcnow() - timedelta(hours=2))
    shop_id = await shop(wired, "AMAZON")
    run = await shop_puller(wired).pull(shop_id)
    assert (run.outcome, run.pages, run.applied) == (PullOutcome.CAUGHT_UP, 3, 5)
    async with wired.core.sessions() as session:
        skus = (await session.execute(select(OrderLine.sku).order_by(OrderLine.order_id, OrderLine.line_no))).all()
    assert [s for (s,) in skus] == ["MUG-BLUE", "COASTER-4"] * 5


async def test_push_and_pull_of_one_order_make_one_order(wired: Runtime, server: ChannelServer) -> None:
    moment = utcnow() - timedelta(hours=1)
    stock(server, "DOUYIN", 3, moment)
    pushed = json.dumps({"code": 10000, "msg": "success", "data": {"shop_order_detail": douyin_order(1, moment)}},
                        indent=2).encode()  # fmt: skip
    [recorded] = await record_payloads(wired.core.sessions, wired.core.vault, "DOUYIN", [pushed])
    by = Provenance(Source.CHANNEL, "partner:bridge", recorded.message_id)
    async with wired.core.sessions() as session, session.begin():
        await wired.core.channel_payloads().process(session, ChannelMessage(recorded.message_id, "DOUYIN", pushed, by))
    run = await shop_puller(wired).pull(await shop(wired, "DOUYIN"))
    assert (run.outcome, run.orders, run.applied) == (PullOutcome.CAUGHT_UP, 3, 3)
    async with wired.core.sessions() as session:
        ids = sorted((await session.execute(select(Order.channel_order_id))).scalars())
    assert ids == [str(6919475900000000000 + n) for n in range(3)]  # the pushed order once, not twice


async def test_a_throttle_mid_window_stops_and_the_next_run_resumes_from_the_cursor(
    wired: Runtime, server: ChannelServer
) -> None:
    stock(server, "TAOBAO", 250, utcnow() - timedelta(hours=3))
    shop_id = await shop(wired, "TAOBAO")
    server.pull_script = [Act.OK, Act.HTTP_429_BARE, Act.RATE_LIMITED, Act.HTTP_429_BARE]
    run = await shop_puller(wired).pull(shop_id)
    assert (run.outcome, run.pages, run.orders) == (PullOutcome.RATE_LIMITED, 1, 100)
    assert str(run.notes[0]) == "HTTP_429: backed off 0 s"  # no Retry-After: our own back-off
    row = await pull_row(wired, shop_id)
    assert (row.cursor, row.checkpoint, row.last_outcome) == ("2", None, "RATE_LIMITED")
    assert "accesscontrol.limited-by-app-access-count" in (row.last_note or "")
    assert await count(wired, Order) == 100  # the committed page stays; the checkpoint waits for the window
    resumed = await shop_puller(wired).pull(shop_id)
    # pages 2 and 3 of the window, then the (empty) window from its end to now
    assert (resumed.outcome, resumed.pages, resumed.orders) == (PullOutcome.CAUGHT_UP, 3, 150)
    assert await count(wired, Order) == 250


@pytest.mark.parametrize(
    ("script", "outcome", "code"),
    [
        ([Act.UNKNOWN], PullOutcome.REFUSED, "isv.brand-new-error:Z99"),
        ([Act.HTML] * 3, PullOutcome.UNAVAILABLE, "HTML_ERROR_PAGE_502"),
        ([Act.TRUNCATED] * 3, PullOutcome.UNAVAILABLE, "TRUNCATED_ANSWER"),
        ([Act.MALFORMED] * 3, PullOutcome.UNAVAILABLE, "MALFORMED_ANSWER_200"),
    ],
)
async def test_an_odd_answer_ends_the_run_recorded_and_moves_nothing(
    wired: Runtime, server: ChannelServer, script: list[Act], outcome: PullOutcome, code: str
) -> None:
    stock(server, "TAOBAO", 10, utcnow() - timedelta(hours=1))
    shop_id = await shop(wired, "TAOBAO")
    server.pull_script = list(script)
    run = await shop_puller(wired).pull(shop_id)
    assert (run.outcome, run.pages) == (outcome, 0)
    row = await pull_row(wired, shop_id)
    assert row.checkpoint is None and row.last_outcome == outcome.value and code in (row.last_note or "")
    async with wired.core.sessions() as session:
        [kept] = (await session.execute(select(InboundMessage))).scalars().all()  # the answer, in the raw mirror
    assert (kept.source, kept.outcome) == ("pull:TAOBAO", "REJECTED") and code in (kept.error or "")
    assert f"inbound message {kept.id}" in (row.last_note or "")
    if code == "HTML_ERROR_PAGE_502":
        assert b"502 Bad Gateway" in wired.core.vault.open(kept.body)
    healed = await shop_puller(wired).pull(shop_id)  # the channel answers again: the same window is pulled
    assert (healed.outcome, healed.orders, healed.applied) == (PullOutcome.CAUGHT_UP, 10, 10)


async def test_a_page_repeating_the_previous_one_stops_the_run(wired: Runtime, server: ChannelServer) -> None:
    stock(server, "DOUYIN", 250, utcnow() - timedelta(hours=3))
    shop_id = await shop(wired, "DOUYIN")
    server.pull_script = [Act.OK, Act.REPEAT]
    run = await shop_puller(wired).pull(shop_id)
    assert (run.outcome, run.pages, run.orders) == (PullOutcome.REPEATED_PAGE, 1, 100)
    row = await pull_row(wired, shop_id)
    assert (row.cursor, row.checkpoint, row.last_outcome) == ("1", None, "REPEATED_PAGE")
    assert "repeats the previous page" in (row.last_note or "")
    resumed = await shop_puller(wired).pull(shop_id)
    assert (resumed.outcome, resumed.orders) == (PullOutcome.CAUGHT_UP, 150)


async def test_a_checkpoint_in_the_future_is_clamped_and_recorded(wired: Runtime, server: ChannelServer) -> None:
    shop_id = await shop(wired, "TAOBAO")
    async with wired.core.sessions() as session, session.begin():
        await session.execute(update(ShopPull).values(checkpoint=utcnow() + timedelta(days=3)))
    run = await shop_puller(wired).pull(shop_id)
    row = await pull_row(wired, shop_id)
    assert run.outcome is PullOutcome.CAUGHT_UP and "in the future: clamped" in (row.last_note or "")
    assert row.checkpoint is not None and row.checkpoint <= utcnow()
    stock(server, "TAOBAO", 2, utcnow() - timedelta(seconds=60))  # within the overlap of the clamped checkpoint
    again = await shop_puller(wired).pull(shop_id)
    assert (again.outcome, again.orders) == (PullOutcome.CAUGHT_UP, 2)


async def test_refused_credentials_alert_once_and_the_cron_skips_the_shop(
    wired: Runtime, server: ChannelServer
) -> None:
    refused = await shop(wired, "TAOBAO", "old", token="expired")
    fine = await shop(wired, "DOUYIN")
    run = await shop_puller(wired).pull(refused)
    assert run.outcome is PullOutcome.CREDENTIALS_REFUSED
    async with wired.core.sessions() as session:
        refused_shop = await session.get(Shop, refused)
        jobs = (await session.execute(select(OutboxMessage.target))).scalars().all()
    assert refused_shop is not None and refused_shop.credentials_refused_at is not None
    assert list(jobs).count(CREDENTIALS_REFUSED_JOB) == 1
    ctx = {"runtime": wired}
    assert await pull_channels(ctx) == 1
    queued = await wired.redis.queued_jobs(queue_name=OUTBOUND.name)
    assert [(j.function, j.args) for j in queued] == [("pull_shop", (fine,))]
    await wired.redis.set(f"orderhub:pull-shop:{fine}", "1")  # another worker is pulling the shop
    assert await pull_shop(ctx, fine) == "ALREADY_RUNNING"
    await wired.redis.delete(f"orderhub:pull-shop:{fine}")
    assert await pull_shop(ctx, fine) == "CAUGHT_UP"


SET_PULL = """mutation($input: SetShopPullInput!) { setShopPull(input: $input) {
  pull { enabled lastOutcome orders } queued userErrors { field code } } }"""
PULL_NOTE = """mutation($input: SetShopPullInput!) { setShopPull(input: $input) { pull { lastOutcome lastNote } } }"""
CREATE_SHOP = """mutation($input: CreateShopInput!) { createShop(input: $input) { shop { id } } }"""


async def test_an_admin_turns_the_pull_on_and_a_pull_is_queued_after_commit(
    api: Api, creds: ApiCredentials, wired: Runtime, server: ChannelServer
) -> None:
    async def create(channel: str) -> str:
        made = await api.gql(CREATE_SHOP, {"input": {"channel": channel, "code": "s1", "name": "s1"}},
                             headers=creds.admin)  # fmt: skip
        gid: str = made["data"]["createShop"]["shop"]["id"]
        return gid

    taobao, wechat = await create("TAOBAO"), await create("WECHAT_CHANNELS")
    refused = await api.gql(SET_PULL, {"input": {"shopId": wechat, "enabled": True}}, headers=creds.admin)
    assert [e["code"] for e in refused["data"]["setShopPull"]["userErrors"]] == ["INVALID"]
    assert (await api.gql(SET_PULL, {"input": {"shopId": taobao}}, headers=creds.writer))["data"] is None
    answer = await api.gql(SET_PULL, {"input": {"shopId": taobao, "enabled": True}}, headers=creds.admin)
    assert answer["data"]["setShopPull"] == {"pull": {"enabled": True, "lastOutcome": None, "orders": 0},
                                             "queued": True, "userErrors": []}  # fmt: skip
    async with wired.core.sessions() as session:
        payloads = await session.execute(select(OutboxMessage.payload).where(OutboxMessage.target == "pull_shop"))
        [payload] = payloads.scalars().all()
    assert await pull_shop({"runtime": wired}, **payload) == "NO_CREDENTIALS"  # its pulls wait for credentials
    off = await api.gql(SET_PULL, {"input": {"shopId": taobao, "enabled": False}}, headers=creds.admin)
    assert off["data"]["setShopPull"]["queued"] is False


async def test_a_page_recorded_but_never_applied_is_applied_by_the_next_run(
    wired: Runtime, server: ChannelServer
) -> None:
    moment = utcnow() - timedelta(hours=1)
    stock(server, "TAOBAO", 3, moment)
    # a run that stopped between recording the page and applying it: the first order's message left PENDING
    [left] = await record_payloads(wired.core.sessions, wired.core.vault, "TAOBAO",
                                   [taobao_api.trade_payload(taobao_trade(0, moment))])  # fmt: skip
    run = await shop_puller(wired).pull(await shop(wired, "TAOBAO"))
    assert (run.outcome, run.orders, run.applied) == (PullOutcome.CAUGHT_UP, 3, 3)
    async with wired.core.sessions() as session:
        outcome = await session.execute(select(InboundMessage.outcome).where(InboundMessage.id == left.message_id))
        assert outcome.scalar_one() == "APPLIED"
    assert await count(wired, InboundMessage) == 3 and await count(wired, Order) == 3


def test_the_pull_runs_on_the_outbound_queue_every_five_minutes() -> None:
    from workers.settings import CRON_JOBS

    assert queue_of("pull_channels") is OUTBOUND and queue_of("pull_shop") is OUTBOUND
    [cron] = [c for c in CRON_JOBS if c.coroutine.__name__ == "pull_channels"]
    assert cron.minute == set(range(4, 60, 5))


async def test_the_last_runs_note_reads_in_the_callers_language_and_the_channels_words_as_given(
    api: Api, creds: ApiCredentials, wired: Runtime, server: ChannelServer
) -> None:
    shop_id = await shop(wired, "TAOBAO")
    server.pull_script = [Act.HTTP_429_BARE] * 3
    assert (await shop_puller(wired).pull(shop_id)).outcome is PullOutcome.RATE_LIMITED
    row = await pull_row(wired, shop_id)
    async with wired.core.sessions() as session:
        [kept] = (await session.execute(select(InboundMessage.id))).scalars().all()

    async def note(language: str) -> str:
        variables = {"input": {"shopId": encode_gid("Shop", shop_id), "enabled": True}}
        answer = await api.gql(PULL_NOTE, variables, headers={**creds.admin, "Accept-Language": language})
        return str(answer["data"]["setShopPull"]["pull"]["lastNote"])

    english = f"HTTP_429: backed off 0 s; HTTP_429: backed off 0 s; HTTP_429: rate limited (inbound message {kept})"
    assert row.last_note == english  # the English stays for logs and machines
    assert await note("en") == english
    assert await note("zh-CN") == (
        f"HTTP_429：等待 0 秒后重试；HTTP_429：等待 0 秒后重试；HTTP_429：被限流（入站报文 {kept}）"
    )
    server.pull_script = [Act.UNKNOWN]  # a code nobody documented: the channel's own words stay as it wrote them
    assert (await shop_puller(wired).pull(shop_id)).outcome is PullOutcome.REFUSED
    said, _, message_id = (await note("en")).removeprefix("isv.brand-new-error:Z99: ").rpartition(" (inbound message ")
    assert said and await note("zh-CN") == f"isv.brand-new-error:Z99：{said}（入站报文 {message_id.rstrip(')')}）"
    async with wired.core.sessions() as session, session.begin():  # a run noted before its sentences were kept
        await session.execute(update(ShopPull).values(last_note="HTTP_429: backed off 2 s", sentences=None))
    assert await note("zh-CN") == await note("en") == "HTTP_429: backed off 2 s"
