"""One buyer across channels: aliases, conflicts, key rotation, channel links, masked suggestions,
grouping of duplicate pending orders, splitting, and the duplicate heatmap. Real HTTP, both databases."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func
from sqlmodel import col, select

from api.graphql.ids import encode_gid
from domain.clock import zone
from domain.errors import Problems
from domain.identity.models import OrderGroup
from domain.identity.queries import duplicate_heatmap
from domain.identity.service import BuyerIdentity, payment_target
from domain.identity.uid import IdentityKey
from domain.orders.commands import LineSubmission, OrderSubmission, validate_submission
from domain.orders.models import Order, OrderEvent
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.outbox.models import OutboxMessage
from domain.outbox.service import Outbox
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import group_pending_orders

BUYER = """query($uid: String!) { buyer(uid: $uid) {
  uid aliases { kind value }
  channels { channel firstOrderAt firstOrderAmount { amount } }
  primaryChannel { channel firstOrderAmount { amount currencyCode } firstOrder { channelOrderId } } } }"""
SUGGESTIONS = """query { matchSuggestions(first: 10) { edges { node {
  id status candidateUid order { channelOrderId buyerUid } evidenceOrder { channelOrderId } } } } }"""
CONFLICTS = """query { aliasConflicts(first: 10) { edges { node { kind value heldUid claimedUid } } } }"""
DECIDE = """mutation($input: DecideMatchSuggestionInput!) { decideMatchSuggestion(input: $input) {
  suggestion { status order { buyerUid } } userErrors { field code } } }"""
SPLIT = """mutation($input: SplitGroupInput!) { splitGroup(input: $input) {
  orders { channelOrderId status } userErrors { field code message } } }"""
HEATMAP = """query($from: DateTime!, $to: DateTime!) { duplicateHeatmap(placedFrom: $from, placedTo: $to) {
  hour channel orders duplicates rate topProducts { sku orders duplicates rate } } }"""

PHONE = "+86 138 1234 5678"
OTHER_PHONE = "139-8765-4321"


async def submit(api: Api, creds: Credentials, order_id: str, **overrides: Any) -> dict[str, Any]:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(order_id, **overrides)}, headers=creds.writer)
    payload = result["data"]["submitOrder"]
    assert payload["userErrors"] == [], payload
    order: dict[str, Any] = payload["order"]
    return order


def key_of(order: dict[str, Any]) -> int:
    return int(order["id"].rsplit("/", 1)[1])


async def row(rt: Runtime, order_id: int) -> Order:
    async with rt.core.sessions() as session:
        found = await session.get(Order, order_id)
    assert found is not None
    return found


async def test_an_alias_seen_with_a_phone_finds_the_buyer_later_without_one(api: Api, creds: Credentials) -> None:
    buyer = {"phone": PHONE, "platformBuyerId": "AAH-tb-1", "aliases": [{"kind": "WECHAT_UNIONID", "value": "oU-1"}]}
    first = await submit(api, creds, "T-1", buyer=buyer)
    assert len(first["buyerUid"]) == 64
    by_unionid = await submit(
        api, creds, "W-1", channel="WECHAT_MINI", buyer={"aliases": [{"kind": "WECHAT_UNIONID", "value": "oU-1"}]}
    )
    by_open_uid = await submit(api, creds, "T-2", buyer={"platformBuyerId": "AAH-tb-1"})
    stranger = await submit(api, creds, "T-3", buyer={"platformBuyerId": "AAH-someone-else"})
    assert by_unionid["buyerUid"] == by_open_uid["buyerUid"] == first["buyerUid"]
    assert stranger["buyerUid"] is None
    result = await api.gql(BUYER, {"uid": first["buyerUid"]}, headers=creds.admin)
    aliases = {(a["kind"], a["value"]) for a in result["data"]["buyer"]["aliases"]}
    assert aliases == {("WECHAT_UNIONID", "oU-1"), ("TAOBAO_OPEN_UID", "AAH-tb-1")}
    assert (await row(api.runtime, key_of(stranger))).buyer_key_problem == "EMPTY"


async def test_an_alias_claimed_by_a_second_buyer_is_a_recorded_conflict(api: Api, creds: Credentials) -> None:
    first = await submit(api, creds, "T-1", buyer={"phone": PHONE, "platformBuyerId": "AAH-shared"})
    second = await submit(api, creds, "T-2", buyer={"phone": OTHER_PHONE, "platformBuyerId": "AAH-shared"})
    assert second["buyerUid"] not in (None, first["buyerUid"])  # the phone decides, the alias does not
    await submit(api, creds, "T-2", buyer={"phone": OTHER_PHONE, "platformBuyerId": "AAH-shared"})  # a repeat
    later = await submit(api, creds, "T-3", buyer={"platformBuyerId": "AAH-shared"})
    assert later["buyerUid"] == first["buyerUid"]  # never silently re-pointed
    result = await api.gql(CONFLICTS, headers=creds.admin)
    conflicts = [e["node"] for e in result["data"]["aliasConflicts"]["edges"]]
    assert conflicts == [
        {
            "kind": "TAOBAO_OPEN_UID",
            "value": "AAH-shared",
            "heldUid": first["buyerUid"],
            "claimedUid": second["buyerUid"],
        }
    ]
    denied = await api.gql(CONFLICTS, headers=creds.reader)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _canonical(order_id: str, phone: str) -> Any:
    sub = OrderSubmission(
        channel="DOUYIN",
        channel_order_id=order_id,
        status="PAID",
        currency="CNY",
        placed_at=datetime(2026, 11, 24, 12, tzinfo=UTC),
        paid_at=datetime(2026, 11, 24, 12, 1, tzinfo=UTC),
        lines=[LineSubmission("SKU-1", "tea", 1, "10.00")],
        buyer_phone=phone,
    )
    problems = Problems()
    canonical = validate_submission(sub, (), problems)
    assert canonical is not None, problems.items
    return canonical


async def test_during_key_rotation_a_known_buyer_keeps_the_uid_of_the_old_key(rt: Runtime) -> None:
    old, new = IdentityKey(1, b"old-key-" * 4), IdentityKey(2, b"new-key-" * 4)
    by = Provenance(Source.CHANNEL, "test")
    async with rt.core.sessions() as session, session.begin():
        before = OrderService(session, BuyerIdentity([old]), Outbox(), 1800)
        [a] = await before.submit([_canonical("D-1", "13812345678")], by)
    async with rt.core.sessions() as session, session.begin():
        rotating = OrderService(session, BuyerIdentity([new, old]), Outbox(), 1800)
        b, c = await rotating.submit([_canonical("D-2", "+86 138-1234-5678"), _canonical("D-3", "13987654321")], by)
    first, again, newcomer = await row(rt, a.order_id), await row(rt, b.order_id), await row(rt, c.order_id)
    assert again.buyer_uid == first.buyer_uid and again.buyer_key_version == 1
    assert newcomer.buyer_key_version == 2
    assert BuyerIdentity([new]).key_for_phone("13987654321").uid == newcomer.buyer_uid


async def test_primary_channel_is_the_largest_first_order_then_the_earliest(api: Api, creds: Credentials) -> None:
    big = [{"sku": "SKU-TV", "title": "TV", "quantity": 1, "unitPrice": "200.00"}]
    buyer = {"phone": PHONE}
    first = await submit(api, creds, "T-1", buyer=buyer, placedAt="2026-11-24T10:00:00+08:00")
    common = {"lines": big, "discountAmount": "0", "totalAmount": "200.00", "buyer": buyer}
    await submit(api, creds, "D-1", channel="DOUYIN", placedAt="2026-11-24T11:00:00+08:00", **common)
    await submit(api, creds, "W-1", channel="WECHAT_MINI", placedAt="2026-11-24T12:00:00+08:00", **common)
    await submit(api, creds, "D-2", channel="DOUYIN", placedAt="2026-11-24T13:00:00+08:00", buyer=buyer)
    # an earlier Taobao order arriving late becomes the Taobao first order
    await submit(api, creds, "T-0", buyer=buyer, placedAt="2026-11-24T09:00:00+08:00")
    result = await api.gql(BUYER, {"uid": first["buyerUid"]}, headers=creds.admin)
    data = result["data"]["buyer"]
    assert [(c["channel"], c["firstOrderAt"]) for c in data["channels"]] == [
        ("TAOBAO", "2026-11-24T01:00:00+00:00"),
        ("DOUYIN", "2026-11-24T03:00:00+00:00"),
        ("WECHAT_MINI", "2026-11-24T04:00:00+00:00"),
    ]
    assert data["primaryChannel"] == {
        "channel": "DOUYIN",
        "firstOrderAmount": {"amount": "200.00", "currencyCode": "CNY"},
        "firstOrder": {"channelOrderId": "D-1"},
    }


async def test_a_masked_phone_only_suggests_and_a_person_decides(api: Api, creds: Credentials) -> None:
    known = await submit(api, creds, "T-1", buyer={"phone": "13812345678", "receiverRegion": "310104"})
    masked = {"phone": "138****5678", "receiverRegion": "310104"}
    hidden = await submit(api, creds, "D-1", channel="DOUYIN", buyer=masked, placedAt="2026-11-24T21:00:00+08:00")
    elsewhere = {"phone": "138****5678", "receiverRegion": "110105"}
    await submit(api, creds, "D-2", channel="DOUYIN", buyer=elsewhere, placedAt="2026-11-24T21:10:00+08:00")
    months_apart = {**masked}
    await submit(api, creds, "D-3", channel="DOUYIN", buyer=months_apart, placedAt="2026-07-01T21:00:00+08:00")
    assert hidden["buyerUid"] is None  # never an automatic merge
    reads: list[str] = []

    def read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        reads.extend(re.findall(r"\bFROM orders\b", statement))

    event.listen(api.runtime.core.engine.sync_engine, "before_cursor_execute", read)
    try:
        result = await api.gql(SUGGESTIONS, headers=creds.cs)
    finally:
        event.remove(api.runtime.core.engine.sync_engine, "before_cursor_execute", read)
    assert len(reads) == 1  # the suggestion's order and its evidence: one read of orders for the page
    [suggestion] = [e["node"] for e in result["data"]["matchSuggestions"]["edges"]]
    assert suggestion["candidateUid"] == known["buyerUid"]
    assert suggestion["order"] == {"channelOrderId": "D-1", "buyerUid": None}
    assert suggestion["evidenceOrder"] == {"channelOrderId": "T-1"}
    decided = await api.gql(DECIDE, {"input": {"id": suggestion["id"], "confirm": True}}, headers=creds.cs)
    payload = decided["data"]["decideMatchSuggestion"]
    assert payload == {
        "suggestion": {"status": "CONFIRMED", "order": {"buyerUid": known["buyerUid"]}},
        "userErrors": [],
    }
    again = await api.gql(DECIDE, {"input": {"id": suggestion["id"], "confirm": False}}, headers=creds.cs)
    assert again["data"]["decideMatchSuggestion"]["userErrors"] == [
        {"field": ["input", "id"], "code": "ALREADY_DECIDED"}
    ]


async def _grouping_day(api: Api, creds: Credentials) -> dict[str, dict[str, Any]]:
    buyer = {"phone": PHONE}
    return {
        "tap1": await submit(api, creds, "T-1", buyer=buyer, placedAt="2026-11-24T20:15:00+08:00"),
        "tap2": await submit(api, creds, "T-2", buyer=buyer, placedAt="2026-11-24T20:16:00+08:00"),
        "douyin": await submit(
            api, creds, "D-1", channel="DOUYIN", buyer={"phone": "8613812345678"}, placedAt="2026-11-24T20:18:00+08:00"
        ),
        "paid": await submit(
            api,
            creds,
            "T-3",
            buyer=buyer,
            placedAt="2026-11-24T20:17:00+08:00",
            status="PAID",
            paidAt="2026-11-24T20:17:30+08:00",
        ),
        "later": await submit(api, creds, "T-4", buyer=buyer, placedAt="2026-11-24T22:00:00+08:00"),
        "other": await submit(api, creds, "T-5", buyer={"phone": OTHER_PHONE}, placedAt="2026-11-24T20:15:30+08:00"),
    }


async def _counts(rt: Runtime) -> tuple[int, int, int]:
    async with rt.core.sessions() as session:
        orders = (await session.exec(select(func.count()).select_from(Order))).one()
        events = (await session.exec(select(func.count()).select_from(OrderEvent))).one()
        groups = (await session.exec(select(func.count()).select_from(OrderGroup))).one()
    return orders, events, groups


async def test_pending_duplicates_are_grouped_once_under_a_parent(api: Api, creds: Credentials) -> None:
    day = await _grouping_day(api, creds)
    ctx = {"runtime": api.runtime}
    parent_id = await group_pending_orders(ctx, key_of(day["tap2"]))
    assert parent_id is not None
    parent = await row(api.runtime, parent_id)
    assert (parent.status, parent.channel_order_id, parent.total_amount) == (
        "PENDING_PAYMENT",
        f"GROUP-{key_of(day['tap1'])}",
        9590,
    )
    for name in ("tap1", "tap2", "douyin"):
        child = await row(api.runtime, key_of(day[name]))
        assert (child.status, child.parent_order_id) == ("MERGED", parent_id), name
    for name in ("paid", "later", "other"):
        assert (await row(api.runtime, key_of(day[name]))).parent_order_id is None, name
    async with api.runtime.core.sessions() as session:
        jobs = (
            await session.exec(select(OutboxMessage).where(col(OutboxMessage.target) == "check_payment_deadline"))
        ).all()
    assert [m.payload for m in jobs][-1] == {"order_id": parent_id}  # the group is flagged if never paid
    snapshot = await _counts(api.runtime)
    for name in day:
        assert await group_pending_orders(ctx, key_of(day[name])) is None, name  # idempotent
    assert await _counts(api.runtime) == snapshot
    async with api.runtime.core.sessions() as session:
        assert await payment_target(session, key_of(day["douyin"])) == parent_id
        assert await payment_target(session, key_of(day["later"])) == key_of(day["later"])
    # the channel reports a child paid: the payment lands on the parent
    await submit(api, creds, "D-1", channel="DOUYIN", buyer={"phone": "8613812345678"},
                 placedAt="2026-11-24T20:18:00+08:00", status="PAID", paidAt="2026-11-24T20:25:00+08:00")  # fmt: skip
    assert (await row(api.runtime, parent_id)).status == "PAID"
    assert (await row(api.runtime, key_of(day["douyin"]))).status == "MERGED"
    child = await api.gql(
        "query($id: ID!) { order(id: $id) { status parentOrder { id status } } }", {"id": day["tap1"]["id"]},
        headers=creds.customer(api.runtime, day["tap1"]["buyerUid"]),
    )  # fmt: skip
    assert child["data"]["order"] == {
        "status": "MERGED",
        "parentOrder": {"id": encode_gid("Order", parent_id), "status": "PAID"},
    }
    refused = await api.gql(SPLIT, {"input": {"parentOrderId": encode_gid("Order", parent_id)}}, headers=creds.admin)
    assert [e["code"] for e in refused["data"]["splitGroup"]["userErrors"]] == ["GROUP_PAID"]


async def test_staff_split_a_group_and_it_stays_split(api: Api, creds: Credentials) -> None:
    day = await _grouping_day(api, creds)
    ctx = {"runtime": api.runtime}
    parent_id = await group_pending_orders(ctx, key_of(day["tap1"]))
    assert parent_id is not None
    gid = encode_gid("Order", parent_id)
    result = await api.gql(SPLIT, {"input": {"parentOrderId": gid}}, headers=creds.admin)
    payload = result["data"]["splitGroup"]
    assert payload["userErrors"] == []
    assert sorted((o["channelOrderId"], o["status"]) for o in payload["orders"]) == [
        ("D-1", "PENDING_PAYMENT"), ("T-1", "PENDING_PAYMENT"), ("T-2", "PENDING_PAYMENT"),
    ]  # fmt: skip
    assert (await row(api.runtime, parent_id)).status == "CANCELLED"
    assert await group_pending_orders(ctx, key_of(day["tap1"])) is None  # a person's decision stands
    again = await api.gql(SPLIT, {"input": {"parentOrderId": gid}}, headers=creds.admin)
    assert [e["code"] for e in again["data"]["splitGroup"]["userErrors"]] == ["NOT_A_GROUP"]
    denied = await api.gql(SPLIT, {"input": {"parentOrderId": gid}}, headers=creds.writer)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_two_jobs_of_one_group_running_at_once_build_one_group(api: Api, creds: Credentials) -> None:
    day = await _grouping_day(api, creds)
    ctx = {"runtime": api.runtime}
    results = await asyncio.gather(*(group_pending_orders(ctx, key_of(day[n])) for n in ("tap1", "tap2", "douyin")))
    parents = {r for r in results if r is not None}
    assert len(parents) == 1
    async with api.runtime.core.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(OrderGroup))).one() == 1
        merged = (await session.exec(select(Order.parent_order_id).where(col(Order.status) == "MERGED"))).all()
    assert list(merged) == [parents.pop()] * 3


async def test_the_heatmap_shows_where_duplicates_happen(api: Api, creds: Credentials) -> None:
    day = await _grouping_day(api, creds)
    await group_pending_orders({"runtime": api.runtime}, key_of(day["tap1"]))
    window = {"from": "2026-11-24T00:00:00+00:00", "to": "2026-11-25T00:00:00+00:00"}
    result = await api.gql(HEATMAP, window, headers=creds.admin)
    cells = result["data"]["duplicateHeatmap"]
    top = cells[0]
    assert (top["hour"], top["channel"], top["orders"], top["duplicates"]) == (
        "2026-11-24T12:00:00+00:00",
        "DOUYIN",
        1,
        1,
    )
    taobao = next(c for c in cells if c["channel"] == "TAOBAO" and c["hour"] == "2026-11-24T12:00:00+00:00")
    assert (taobao["orders"], taobao["duplicates"]) == (4, 2)  # the parent is not counted
    assert taobao["rate"] == 0.5
    assert {p["sku"] for p in taobao["topProducts"]} == {"SKU-TEA-001", "SKU-CUP-002"}
    assert taobao["topProducts"][0]["rate"] == 0.5
    assert sum(c["duplicates"] for c in cells) == 3
    assert await api.gql(HEATMAP, window, headers=creds.reader) != result
    start, end = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)
    async with api.runtime.core.sessions() as session:  # the hours follow the merchant's clock, not UTC's
        india = await duplicate_heatmap(session, start, end, tz=zone("Asia/Kolkata"))
    assert {(c.hour, c.channel, c.orders, c.duplicates) for c in india} == {
        (datetime(2026, 11, 24, 11, 30, tzinfo=UTC), "TAOBAO", 4, 2),  # 17:00 to 18:00 in India
        (datetime(2026, 11, 24, 11, 30, tzinfo=UTC), "DOUYIN", 1, 1),
        (datetime(2026, 11, 24, 13, 30, tzinfo=UTC), "TAOBAO", 1, 0),
    }


async def test_a_phone_that_changes_on_a_later_event_keeps_the_first_buyer(api: Api, creds: Credentials) -> None:
    """The UID is fixed when the order is created; a later snapshot's phone neither re-keys nor teaches aliases."""
    first = await submit(api, creds, "T-1", buyer={"phone": PHONE, "platformBuyerId": "AAH-1"})
    paid = await submit(
        api, creds, "T-1", status="PAID", paidAt="2026-11-24T20:20:00+08:00",
        buyer={"phone": OTHER_PHONE, "platformBuyerId": "AAH-2"},
    )  # fmt: skip
    assert paid["status"] == "PAID"
    assert paid["buyerUid"] == first["buyerUid"]
    result = await api.gql(BUYER, {"uid": first["buyerUid"]}, headers=creds.admin)
    assert result["data"]["buyer"]["aliases"] == [{"kind": "TAOBAO_OPEN_UID", "value": "AAH-1"}]
    garbage = await submit(api, creds, "T-2", buyer={"phone": "call me maybe"})
    assert garbage["buyerUid"] is None
    assert (await row(api.runtime, key_of(garbage))).buyer_key_problem == "UNPARSEABLE"


async def test_a_late_duplicate_joins_the_open_group_and_a_paid_one_never_does(api: Api, creds: Credentials) -> None:
    day = await _grouping_day(api, creds)
    ctx = {"runtime": api.runtime}
    parent_id = await group_pending_orders(ctx, key_of(day["tap1"]))
    late = await submit(api, creds, "T-6", buyer={"phone": PHONE}, placedAt="2026-11-24T20:19:00+08:00")
    paid_first = await submit(api, creds, "T-7", buyer={"phone": PHONE}, placedAt="2026-11-24T20:19:30+08:00")
    await submit(api, creds, "T-7", buyer={"phone": PHONE}, placedAt="2026-11-24T20:19:30+08:00", status="PAID",
                 paidAt="2026-11-24T20:20:00+08:00")  # fmt: skip
    assert await group_pending_orders(ctx, key_of(paid_first)) is None
    assert await group_pending_orders(ctx, key_of(late)) == parent_id
    assert (await row(api.runtime, key_of(late))).parent_order_id == parent_id
    assert (await row(api.runtime, key_of(paid_first))).status == "PAID"
    assert (await _counts(api.runtime))[2] == 1


async def test_an_alias_only_order_naming_two_buyers_goes_to_the_first_and_is_recorded(
    api: Api, creds: Credentials
) -> None:
    one = await submit(
        api, creds, "T-1", buyer={"phone": PHONE, "aliases": [{"kind": "WECHAT_UNIONID", "value": "u1"}]}
    )
    two = await submit(api, creds, "T-2", buyer={"phone": OTHER_PHONE, "platformBuyerId": "AAH-two"})
    both = {"aliases": [{"kind": "WECHAT_UNIONID", "value": "u1"}], "platformBuyerId": "AAH-two"}
    mixed = await submit(api, creds, "T-3", buyer=both)
    assert mixed["buyerUid"] == one["buyerUid"]
    result = await api.gql(CONFLICTS, headers=creds.admin)
    conflicts = [e["node"] for e in result["data"]["aliasConflicts"]["edges"]]
    assert conflicts == [
        {"kind": "TAOBAO_OPEN_UID", "value": "AAH-two", "heldUid": two["buyerUid"], "claimedUid": one["buyerUid"]}
    ]
