"""The exceptions queue's API: filters by age, warehouse and who has the case, the 72-hour closure deadline, and
the people a case may be given to."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from api.auth.tokens import issue_staff_token
from api.graphql.ids import decode_gid
from domain.access.service import create_staff, disable_staff
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from domain.outbox.service import Outbox
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

QUEUE = """query($filter: OrderExceptionFilter) { orderExceptions(first: 50, filter: $filter) {
  nodes { summary openedAt closeBy assignedTo assignedAt order { warehouseCode } } } }"""
ASSIGNEES = "query { exceptionAssignees }"
ASSIGN = """mutation($input: AssignExceptionInput!) { assignException(input: $input) {
  exception { assignedTo assignedAt } userErrors { code } } }"""


async def _seed(api: Api, creds: Credentials) -> dict[str, int]:
    """Three cases: 2 h old in Shanghai, 30 h old in Beijing, 80 h old with no order; keyed by summary."""
    keys = {}
    for cid, warehouse in (("Q-1", "WH-SH-01"), ("Q-2", "WH-BJ-02")):
        done = await api.gql(SUBMIT_ORDER, {"input": order_input(cid, warehouseCode=warehouse)}, headers=creds.writer)
        keys[cid] = decode_gid(done["data"]["submitOrder"]["order"]["id"], "Order")[1]
    now = utcnow()
    async with api.runtime.core.sessions() as session, session.begin():
        for summary, hours, order in (("sh", 2, keys["Q-1"]), ("bj", 30, keys["Q-2"]), ("none", 80, None)):
            session.add(OrderException(kind="WAREHOUSE_EXCEPTION", state="OPEN", summary=summary, order_id=order,
                                       opened_at=now - timedelta(hours=hours), details={}))  # fmt: skip
    return keys


async def test_a_page_of_cases_reads_their_orders_at_once(api: Api, creds: Credentials) -> None:
    """The queue names each case's order with one read of orders for the page, not one per case: at 50 cases a
    page, a session per case's order held the console's queue up for most of a second."""
    await _seed(api, creds)
    reads: list[str] = []

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if re.search(r"\bFROM orders\b", statement):
            reads.append(statement)

    engine = api.runtime.core.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        listed = await api.gql(QUEUE, {"filter": {}}, headers=creds.cs)
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
    nodes = listed["data"]["orderExceptions"]["nodes"]
    shown = {n["summary"]: n["order"] and n["order"]["warehouseCode"] for n in nodes}
    assert shown == {"none": None, "bj": "WH-BJ-02", "sh": "WH-SH-01"}
    assert len(reads) == 1, reads


async def _summaries(api: Api, creds: Credentials, **filter: object) -> list[str]:
    found = await api.gql(QUEUE, {"filter": filter}, headers=creds.cs)
    assert "errors" not in found, found
    return [n["summary"] for n in found["data"]["orderExceptions"]["nodes"]]


async def test_filters_by_age_warehouse_and_assignee(api: Api, creds: Credentials) -> None:
    await _seed(api, creds)
    now = utcnow()
    assert await _summaries(api, creds) == ["none", "bj", "sh"]
    assert await _summaries(api, creds, openedAfter=(now - timedelta(hours=24)).isoformat()) == ["sh"]
    between = {
        "openedAfter": (now - timedelta(hours=72)).isoformat(),
        "openedBefore": (now - timedelta(hours=24)).isoformat(),
    }
    assert await _summaries(api, creds, **between) == ["bj"]
    assert await _summaries(api, creds, openedBefore=(now - timedelta(hours=72)).isoformat()) == ["none"]
    assert await _summaries(api, creds, warehouseCode="WH-BJ-02") == ["bj"]
    assert await _summaries(api, creds, warehouseCode="WH-XX") == []

    listed = await api.gql(QUEUE, {"filter": {}}, headers=creds.cs)
    [sh] = [n for n in listed["data"]["orderExceptions"]["nodes"] if n["summary"] == "sh"]
    opened, close_by = datetime.fromisoformat(sh["openedAt"]), datetime.fromisoformat(sh["closeBy"])
    assert close_by - opened == timedelta(hours=72)
    assert sh["order"] == {"warehouseCode": "WH-SH-01"}

    case = (await api.gql("query { orderExceptions(first: 1) { nodes { id } } }", headers=creds.cs))["data"]
    case_id = case["orderExceptions"]["nodes"][0]["id"]
    given = await api.gql(ASSIGN, {"input": {"exceptionId": case_id, "assignee": "staff:admin@shop.example"}},
                          headers=creds.cs)  # fmt: skip
    assert given["data"]["assignException"]["exception"]["assignedAt"] is not None
    assert await _summaries(api, creds, assignedTo="staff:admin@shop.example") == ["none"]
    assert await _summaries(api, creds, unassigned=True) == ["bj", "sh"]
    assert await _summaries(api, creds, unassigned=True, warehouseCode="WH-SH-01") == ["sh"]


async def test_assignees_are_the_active_staff_who_may_handle_cases(api: Api, creds: Credentials) -> None:
    async with api.runtime.core.sessions() as session, session.begin():
        await create_staff(session, "ops@shop.example", "correct horse battery", ["ops"])
        await create_staff(session, "money@shop.example", "correct horse battery", ["finance"])
        await create_staff(session, "gone@shop.example", "correct horse battery", ["cs"])
        await disable_staff(session, "gone@shop.example", Outbox())
    found = await api.gql(ASSIGNEES, headers=creds.cs)
    assert found["data"]["exceptionAssignees"] == [
        "staff:admin@shop.example", "staff:cs@shop.example", "staff:ops@shop.example",
    ]  # fmt: skip
    async with api.runtime.core.sessions() as session, session.begin():
        money = await create_staff(session, "money2@shop.example", "correct horse battery", ["finance"])
    assert money.id is not None
    token = issue_staff_token(api.runtime.settings.secret("token_secret"), money.id, money.email, money.roles, 10)
    refused = await api.gql(ASSIGNEES, headers={"Authorization": f"Bearer {token.token}"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    partner = await api.gql(ASSIGNEES, headers=creds.reader)
    assert partner["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "UNAUTHENTICATED"}
