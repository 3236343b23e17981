"""The outcome stored for a recorded partner request tells what became of all of it: a request of
several mutations, some applied and some refused or failed, and a message whose process died."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.intake.sweeper import ABANDONED, fail_abandoned
from domain.orders.models import Order
from domain.pipeline.record import Arrival, close, record
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import order_input
from tests.integration.test_record_stage import only_message

TWO = """mutation Two($a: OrderInput!, $b: OrderInput!) {
  a: submitOrder(input: $a) { order { id } userErrors { code } }
  b: submitOrder(input: $b) { order { id } userErrors { code } }
}"""
REFUSED = "orders.0.currencyCode: 'XXX' is not an ISO 4217 currency code (INVALID_CURRENCY)"


@pytest.mark.parametrize("refused_first", [False, True])
async def test_a_request_applied_in_part_is_applied_with_the_refusals_kept(
    api: Api, creds: Credentials, refused_first: bool
) -> None:
    good, bad = order_input("GOOD-1"), order_input("BAD-1", currencyCode="XXX")
    a, b = (bad, good) if refused_first else (good, bad)
    body = await api.gql(TWO, {"a": a, "b": b}, headers=creds.writer)
    codes = [[e["code"] for e in body["data"][name]["userErrors"]] for name in "ab"]
    assert sorted(codes) == [[], ["INVALID_CURRENCY"]]
    message = await only_message(api)
    assert (message.outcome, message.error) == (Outcome.APPLIED, f"refused in part: {REFUSED}")


async def test_a_request_refused_in_full_keeps_every_refusal(api: Api, creds: Credentials) -> None:
    bad = order_input("BAD-1", currencyCode="XXX")
    await api.gql(TWO, {"a": bad, "b": bad | {"channelOrderId": "BAD-2"}}, headers=creds.writer)
    message = await only_message(api)
    assert (message.outcome, message.error) == (Outcome.REJECTED, f"{REFUSED}; {REFUSED}")


async def test_a_failure_after_part_was_applied_is_failed_and_says_so(
    api: Api, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second mutation meets a fault of ours (a failing service, as a bug or a lost database would be)."""
    from domain.orders.service import OrderService

    original = OrderService.submit

    async def failing_for_b(self: OrderService, orders: Any, by: Any) -> Any:
        if any(o.channel_order_id == "B-1" for o in orders):
            raise RuntimeError("lost the database")
        return await original(self, orders, by)

    monkeypatch.setattr(OrderService, "submit", failing_for_b)
    body = await api.gql(TWO, {"a": order_input("GOOD-1"), "b": order_input("B-1")}, headers=creds.writer)
    assert body["errors"][0]["message"] == "Unexpected error."
    async with api.runtime.core.sessions() as session:
        applied = (await session.exec(select(Order.channel_order_id))).all()
    assert applied == ["GOOD-1"]
    message = await only_message(api)
    assert message.outcome == Outcome.FAILED
    assert message.error is not None and message.error.endswith("(after part of the request was applied)")


async def test_the_sweeper_fails_only_messages_left_pending_past_the_grace(api: Api) -> None:
    core = api.runtime.core

    async def recorded(age: timedelta) -> int:
        arrival = Arrival("partner:x", "graphql", b"{}", 2, {}, SignatureVerdict.VALID, received_at=utcnow() - age)
        return (await record(core.sessions, core.vault, arrival, max_body_bytes=100)).message_id

    died, closed, recent = (
        await recorded(timedelta(hours=1)),
        await recorded(timedelta(hours=1)),
        await recorded(timedelta(0)),
    )
    await close(core.sessions, closed, Outcome.REJECTED, "no query")
    async with core.sessions() as session, session.begin():
        assert await fail_abandoned(session, timedelta(minutes=5)) == 1
    async with core.sessions() as session:
        rows = (await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).all()
    assert [(r.id, r.outcome, r.error) for r in rows] == [
        (died, Outcome.FAILED, ABANDONED),
        (closed, Outcome.REJECTED, "no query"),
        (recent, Outcome.PENDING, None),
    ]
    assert ABANDONED.startswith("abandoned:")
