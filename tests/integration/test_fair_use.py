"""Fair use: a partner key spends its queries' cost points from one bucket shared by every API process,
is answered THROTTLED with the time to retry, and sees what is left in extensions.cost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import col, select

from api.app import create_app
from domain.intake.models import InboundMessage, Outcome
from runtime.process import Runtime
from tests.conftest import Api, Credentials

EN = {"Accept-Language": "en"}  # messages are read by their English text here

ONE_POINT = '{ node(id: "gid://orderhub/Order/1") { id } }'  # one object, no page: costs 1
ELEVEN_POINTS = "{ orders(first: 5) { edges { node { id } } } }"  # 1 + 5 x (edges 1 + node 1)


@pytest.fixture
async def processes(rt: Runtime) -> AsyncIterator[tuple[Api, Api]]:
    """Two API applications on one Redis, as two processes behind a load balancer: a 3-point bucket that
    refills a point a second, so its window (3 s) does not turn while a loaded machine answers the test's
    queries."""
    settings = rt.settings.model_copy(update={"partner_cost_bucket": 3, "partner_cost_restore_per_second": 1})
    apps = [create_app(settings=settings, runtime=rt) for _ in range(2)]
    transports = [httpx.ASGITransport(app=app) for app in apps]
    async with (
        httpx.AsyncClient(transport=transports[0], base_url="http://a.orderhub.test", headers=EN) as a,
        httpx.AsyncClient(transport=transports[1], base_url="http://b.orderhub.test", headers=EN) as b,
    ):
        yield Api(a, rt), Api(b, rt)


async def test_one_bucket_per_key_across_processes_and_the_advised_wait_is_enough(
    processes: tuple[Api, Api], creds: Credentials
) -> None:
    a, b = processes
    too_costly = await a.gql(ELEVEN_POINTS, headers=creds.reader)  # can never fit: refused for good
    assert too_costly["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert too_costly["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 3  # nothing was spent
    left = []
    for _ in range(3):
        answer = await a.gql(ONE_POINT, headers=creds.reader)
        assert "errors" not in answer
        cost = answer["extensions"]["cost"]
        assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (1, 1)
        left.append(cost["throttleStatus"]["currentlyAvailable"])
    assert left == [2, 1, 0]
    assert answer["extensions"]["cost"]["throttleStatus"] == {
        "maximumAvailable": 3, "currentlyAvailable": 0, "restoreRate": 1,
    }  # fmt: skip

    refused = await b.gql(ONE_POINT, headers=creds.reader)  # the other process knows the bucket is empty
    error = refused["errors"][0]
    assert error["extensions"]["code"] == "THROTTLED" and refused["data"] is None
    wait_ms = error["extensions"]["retryAfterMs"]
    assert 0 < wait_ms <= 4_000  # at most the rest of the window, then one point's restore time
    assert refused["extensions"]["cost"]["actualQueryCost"] is None

    other_key = await b.gql(ONE_POINT, headers=creds.writer)  # every key has its own bucket
    assert "errors" not in other_key
    staff = await b.gql(ONE_POINT, headers=creds.admin)  # staff and customers are not metered
    assert "throttleStatus" not in staff["extensions"]["cost"]

    await asyncio.sleep(wait_ms / 1000)
    assert "errors" not in await b.gql(ONE_POINT, headers=creds.reader)

    async with a.runtime.core.sessions() as session:
        rows = (await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).all()
    throttled = [r for r in rows if r.error and "throttled" in r.error]
    assert len(throttled) == 1 and throttled[0].outcome == Outcome.REJECTED
