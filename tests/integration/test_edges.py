"""What the edges give away: pub/sub channel names, GraphiQL and introspection, framing of the console."""

from __future__ import annotations

import asyncio
import json

import httpx

from api.app import create_app
from domain.settings import get_settings
from runtime.outbox_relay import channel_name
from runtime.process import Runtime, build_runtime
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

EN = {"Accept-Language": "en"}  # messages are read by their English text here

INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_pubsub_channels_carry_the_configured_prefix(api: Api, creds: Credentials) -> None:
    """The relay publishes under the prefix of its runtime's settings, not the process's global ones."""
    assert channel_name("orders", "shop7") == "shop7:orders"
    settings = api.runtime.settings.model_copy(update={"pubsub_prefix": "shop7"})
    shop7 = await build_runtime(settings, migrate=False)
    pubsub = shop7.redis.pubsub()
    try:
        await pubsub.subscribe("shop7:orders")  # pub/sub spans every db of this Redis: match on the buyer too
        async with await _client(shop7, graphiql=False) as client:
            body = {"query": SUBMIT_ORDER, "variables": {"input": order_input("PREFIXED")}}
            created = (await client.post("/graphql", json=body, headers=creds.writer)).json()
        order = created["data"]["submitOrder"]["order"]
        mine = (int(order["id"].rsplit("/", 1)[1]), order["buyerUid"])
        await shop7.relay.drained()
        envelope: dict[str, object] = {}
        async with asyncio.timeout(5):
            while (envelope.get("order_id"), envelope.get("buyer_uid")) != mine:
                message = await pubsub.get_message(timeout=1)
                if message and message["type"] == "message":
                    envelope = json.loads(message["data"])
    finally:
        await pubsub.aclose()
        await shop7.close()
    assert channel_name("orders") == "orderhub:orders"


async def _client(rt: Runtime, graphiql: bool) -> httpx.AsyncClient:
    app = create_app(settings=rt.settings.model_copy(update={"graphiql": graphiql}), runtime=rt)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN)


async def test_graphiql_and_introspection_are_off_unless_turned_on(rt: Runtime, creds: Credentials) -> None:
    assert get_settings().graphiql is False
    async with await _client(rt, graphiql=False) as client:
        assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 404
        refused = (await client.post("/graphql", json={"query": INTROSPECTION}, headers=creds.admin)).json()
        assert "introspection has been disabled" in refused["errors"][0]["message"].lower()
        assert refused.get("data") is None
    async with await _client(rt, graphiql=True) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        answered = (await client.post("/graphql", json={"query": INTROSPECTION}, headers=creds.admin)).json()
        assert answered["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_the_console_may_not_be_framed_and_the_board_leads_to_it(api: Api) -> None:
    moved = await api.client.get("/board")
    assert moved.status_code == 307 and moved.headers["location"] == "/console#/health"
    response = await api.client.get("/console")
    assert response.status_code == 200
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
