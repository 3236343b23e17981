"""Staff opening the Health page together share one computation of the period's metrics: they see the same counts
and the same computedAt until `health_shared_seconds` have passed, while a changed threshold shows at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from api.app import create_app
from domain.clock import utcnow
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.test_health_api import THRESHOLD, _order

HEALTH = """query($input: HealthInput) { health(input: $input) { computedAt
  metrics { metric numerator denominator threshold healthy } } }"""


@pytest.fixture
async def sharing(rt: Runtime) -> AsyncIterator[Api]:
    settings = rt.settings.model_copy(update={"health_shared_seconds": 60})
    transport = httpx.ASGITransport(app=create_app(settings=settings, runtime=rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://orderhub.test") as client:
        yield Api(client, rt)


def _attribution(body: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in body["data"]["health"]["metrics"] if m["metric"] == "CHANNEL_ATTRIBUTION")


async def test_one_computation_for_everyone_until_it_ages(sharing: Api, api: Api, creds: Credentials) -> None:
    now = utcnow()  # explicit ranges: no merchant day or hour may turn during the test
    span = {"input": {"from": (now - timedelta(hours=2)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}}
    wider = {"input": {"from": (now - timedelta(hours=3)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}}
    await _order(api, creds, "S-1", "TAOBAO", {"utmSource": "taobao"}, timedelta(seconds=5))
    scans: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM orders o WHERE" in statement and " AS n0, " in statement:  # health's one scan of the day's orders
            scans.append(statement)

    engine = sharing.runtime.core.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        together = await asyncio.gather(*(sharing.gql(HEALTH, span, headers=creds.cs) for _ in range(3)))
        assert len(scans) == 1  # three staff, one scan of the day's orders
        first = together[0]["data"]["health"]
        assert all(t["data"]["health"] == first for t in together)
        assert _attribution(together[0])["denominator"] == 1

        await _order(api, creds, "S-2", "TAOBAO", {"utmSource": "douyin"}, timedelta(seconds=5))
        later = await sharing.gql(HEALTH, span, headers=creds.cs)
        assert later["data"]["health"]["computedAt"] == first["computedAt"] and len(scans) == 1
        assert _attribution(later)["denominator"] == 1  # the shared answer, not yet the new order

        lowered = {"metric": "CHANNEL_ATTRIBUTION", "threshold": 0.5, "reason": "utm rolling out"}
        changed = await sharing.gql(THRESHOLD, {"input": lowered}, headers=creds.admin)
        assert changed["data"]["setHealthThreshold"]["threshold"]["value"] == 0.5
        assert _attribution(await sharing.gql(HEALTH, span, headers=creds.cs))["threshold"] == 0.5  # at once

        other = await sharing.gql(HEALTH, wider, headers=creds.cs)
        assert _attribution(other)["denominator"] == 2 and len(scans) == 2  # another period: computed for it
    finally:
        event.remove(engine, "before_cursor_execute", count)

    fresh = await api.gql(HEALTH, span, headers=creds.cs)  # an app that shares nothing computes every time
    assert _attribution(fresh)["denominator"] == 2 and fresh["data"]["health"]["computedAt"] > first["computedAt"]
