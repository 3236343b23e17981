"""Exceptions, the shipped rule, the stuck-order cron and the customer's view of fulfilment."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from domain.clock import utcnow
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import (
    ASSIGN,
    EXCEPTIONS,
    RESOLVE,
    RULE,
    TIMELINE,
    WAREHOUSE,
    callers,
    confirmation,
    outbox_rows,
    paid_order,
    request_ship,
    scan,
)
from workers.fulfilment_jobs import find_stuck_shipments, record_shipped_notice

MY_ORDERS = """query { myOrders(first: 10) { edges { node { id status warehouseCode currentOperator
  predictedNextAt lastStageDuration { seconds text } backtrack { blockingPoint { operator summary } } } } } }"""
EN = {"Accept-Language": "en"}


async def test_cron_opens_one_case_per_stuck_order_and_staff_work_it(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    now = utcnow()
    stuck = await paid_order(api, creds, "S-1")
    fresh = await paid_order(api, creds, "S-2")
    await request_ship(api, who, stuck["id"], now - timedelta(hours=5))
    await request_ship(api, who, fresh["id"], now - timedelta(minutes=20))
    ctx = {"runtime": api.runtime}
    assert await find_stuck_shipments(ctx) == 1
    assert await find_stuck_shipments(ctx) == 0  # one open case per order, however often the cron runs

    listed = await api.gql(EXCEPTIONS, {"first": 10, "filter": {"states": ["OPEN"]}}, headers={**creds.cs, **EN})
    [edge] = listed["data"]["orderExceptions"]["edges"]
    case = edge["node"]
    assert case["kind"] == "STUCK_AFTER_SHIP_REQUEST"
    assert case["order"]["id"] == stuck["id"]
    assert case["summary"].startswith("no outbound 5 h after the ship request")
    [envelope] = [r.payload for r in await outbox_rows(api, "exceptions")]
    assert set(envelope) == {"event_id", "exception_id", "order_id", "kind", "state", "opened_at", "resolved_at",
                             "issued_at"}  # fmt: skip
    assert envelope["state"] == "OPEN"
    node = """query($id: ID!) { node(id: $id) { id ... on OrderException { kind state order { id } } } }"""
    found = (await api.gql(node, {"id": case["id"]}, headers=creds.cs))["data"]["node"]
    assert found == {
        "id": case["id"],
        "kind": "STUCK_AFTER_SHIP_REQUEST",
        "state": "OPEN",
        "order": {"id": stuck["id"]},
    }
    assert (await api.gql(node, {"id": case["id"]}, headers=creds.reader))["data"]["node"] is None  # staff only

    assigned = await api.gql(ASSIGN, {"input": {"exceptionId": case["id"]}}, headers=creds.cs)
    assert assigned["data"]["assignException"]["exception"]["assignedTo"] == "staff:cs@shop.example"
    resolved = await api.gql(
        RESOLVE, {"input": {"exceptionId": case["id"], "resolution": "warehouse short of staff"}}, headers=creds.cs
    )
    closed = resolved["data"]["resolveException"]["exception"]
    assert (closed["state"], closed["resolver"]) == ("RESOLVED", "staff:cs@shop.example")
    again = await api.gql(RESOLVE, {"input": {"exceptionId": case["id"], "resolution": "x"}}, headers=creds.cs)
    assert again["data"]["resolveException"]["userErrors"][0]["code"] == "ALREADY_RESOLVED"
    view = (await api.gql(TIMELINE, {"id": stuck["id"]}, headers={**creds.admin, **EN}))["data"]["order"]
    types = [e["node"]["type"] for e in view["timeline"]["systemLog"]["edges"]]
    assert types[-2:] == ["EXCEPTION_OPENED", "EXCEPTION_RESOLVED"]
    assert await find_stuck_shipments(ctx) == 1  # still stuck after the case closed: a fresh case
    wrong_id = await api.gql(RESOLVE, {"input": {"exceptionId": stuck["id"], "resolution": "x"}}, headers=creds.cs)
    assert wrong_id["errors"][0]["extensions"]["code"] == "INVALID_ID"


async def test_only_admin_changes_the_rule_and_every_change_is_kept(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    change = {"input": {"minMinutesAfterRequest": 60, "reason": "carriers collect hourly"}}
    refused = await api.gql(RULE, change, headers=who.ops)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await api.gql(RULE, {"input": {"minMinutesAfterRequest": -1, "reason": " "}}, headers=creds.admin)
    assert {e["field"][-1] for e in bad["data"]["changeShippedRule"]["userErrors"]} == {
        "minMinutesAfterRequest", "reason"
    }  # fmt: skip
    stored = (await api.gql(RULE, change, headers=creds.admin))["data"]["changeShippedRule"]["rule"]
    assert (stored["version"], stored["minMinutesAfterRequest"]) == (1, 60)
    [entry] = stored["history"]
    assert entry["changedBy"] == "staff:admin@shop.example"
    assert entry["previous"]["min_minutes_after_request"] == 5

    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(minutes=50))
    held = await api.gql(
        WAREHOUSE, {"input": confirmation(now - timedelta(minutes=10), "DO-1")}, headers=creds.wms_only
    )
    case = held["data"]["recordWarehouseEvent"]["exceptions"][0]
    assert (case["details"]["reason"], case["details"]["rule_version"]) == ("TOO_SOON", 1)


async def test_customer_sees_own_progress_but_not_the_system_log(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=3))
    await api.gql(WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=2), "S-1")}, headers=creds.wms_only)
    uid = (await api.gql("query($id: ID!) { order(id: $id) { buyerUid } }", {"id": order["id"]}, headers=creds.admin))[
        "data"
    ]["order"]["buyerUid"]
    mine = await api.gql(MY_ORDERS, headers={**creds.customer(api.runtime, uid), **EN})
    [node] = [e["node"] for e in mine["data"]["myOrders"]["edges"]]
    assert node["status"] == "PACKED"
    assert node["warehouseCode"] == "WH-SH-01"
    assert node["currentOperator"] is None  # the operator's name is shown only if the merchant allows it
    assert node["backtrack"]["blockingPoint"]["operator"] is None
    assert "Li Lei" not in node["backtrack"]["blockingPoint"]["summary"]
    assert node["predictedNextAt"] is None
    assert 7200 <= node["lastStageDuration"]["seconds"] < 7300
    assert node["lastStageDuration"]["text"].startswith("2 h")
    stranger = await api.gql(MY_ORDERS, headers=creds.customer(api.runtime, "f" * 64))
    assert stranger["data"]["myOrders"]["edges"] == []

    core = api.runtime.core
    before, core.settings = core.settings, core.settings.model_copy(update={"show_operator_to_customers": True})
    try:
        shown = await api.gql(MY_ORDERS, headers={**creds.customer(api.runtime, uid), **EN})
    finally:
        core.settings = before
    [node] = [e["node"] for e in shown["data"]["myOrders"]["edges"]]
    assert node["currentOperator"] == node["backtrack"]["blockingPoint"]["operator"] == "Li Lei (E1024)"
    assert "operator Li Lei (E1024)" in node["backtrack"]["blockingPoint"]["summary"]
    by_partner = await api.gql(MY_ORDERS, headers=creds.reader)
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    log = await api.gql(TIMELINE, {"id": order["id"]}, headers=creds.customer(api.runtime, uid))
    assert log["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    flow_only = await api.gql(
        "query($id: ID!) { order(id: $id) { timeline { flow { label } } backtrack { blockingPoint { summary } } } }",
        {"id": order["id"]},
        headers={**creds.customer(api.runtime, uid), **EN},
    )
    view = flow_only["data"]["order"]
    assert [s["label"] for s in view["timeline"]["flow"]][-2:] == ["ship request", "packed"]
    assert view["backtrack"]["blockingPoint"]["summary"].startswith("packed -> outbound: 2 h")


async def test_shipped_notification_job_checks_the_parcel_left(
    api: Api, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    key = int(order["id"].rsplit("/", 1)[1])
    ctx = {"runtime": api.runtime}
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=2))
    assert await record_shipped_notice(ctx, key, 3) is False  # a forged job for a clicked order tells nobody
    await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(hours=1), "DO-1")}, headers=creds.wms_only)
    [job] = await outbox_rows(api, "notify_customer_shipped")
    with caplog.at_level(logging.INFO, logger="workers.fulfilment_jobs"):
        assert await record_shipped_notice(ctx, **job.payload) is True
    # this job sends nothing: the log says who tells the buyer, never that the buyer was notified
    assert "by offline push, not from here" in caplog.text and "notified" not in caplog.text
    assert [j.payload["reason"] for j in await outbox_rows(api, "push_order_update")] == ["SHIPPED"]
