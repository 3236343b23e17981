"""The same query answers in the caller's language: journey labels, backtrack summaries and durations, the system
log's decisions, health metric titles and stored exception summaries are Chinese for `Accept-Language: zh-CN` and
English for `en`, while every code, id, number and time is the same in both."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from domain.orders.models import OrderEvent
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import (
    EXCEPTIONS,
    TIMELINE,
    WAREHOUSE,
    callers,
    paid_order,
    request_ship,
    scan,
)
from workers.fulfilment_jobs import find_stuck_shipments

HEALTH = """query { health { metrics { metric dimension numerator denominator threshold healthy title formula } } }"""
CJK = re.compile(r"[\u4e00-\u9fff]")


def machine(value: Any, human: frozenset[str]) -> Any:
    """The answer with its human text taken out: what must not change with the language."""
    if isinstance(value, dict):
        return {k: machine(v, human) for k, v in value.items() if k not in human}
    if isinstance(value, list):
        return [machine(v, human) for v in value]
    return value


async def both(api: Api, query: str, variables: dict[str, Any], headers: dict[str, str]) -> tuple[Any, Any]:
    zh = await api.gql(query, variables, headers={**headers, "Accept-Language": "zh-CN"})
    en = await api.gql(query, variables, headers={**headers, "Accept-Language": "en"})
    assert "errors" not in zh and "errors" not in en, (zh, en)
    return zh["data"], en["data"]


async def test_journey_and_backtrack_speak_the_callers_language(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=5))
    await api.gql(WAREHOUSE, {"input": scan("PACKED", now - timedelta(hours=4), "S-9")}, headers=creds.wms_only)
    zh, en = await both(api, TIMELINE, {"id": order["id"]}, creds.admin)
    human = frozenset({"label", "summary", "text", "waitingFor", "decision"})
    assert machine(zh, human) == machine(en, human)

    assert [s["label"] for s in en["order"]["timeline"]["flow"]] == ["order placed", "paid", "ship request", "packed"]
    assert [s["label"] for s in zh["order"]["timeline"]["flow"]] == ["已下单", "已付款", "已申请发货", "已打包"]
    assert zh["order"]["backtrack"]["stages"][-1]["label"] == "已申请发货 → 已打包"
    assert en["order"]["backtrack"]["stages"][-1]["duration"]["text"] == "1 h 0 min"
    assert zh["order"]["backtrack"]["stages"][-1]["duration"]["text"] == "1小时0分钟"
    en_block, zh_block = en["order"]["backtrack"]["blockingPoint"], zh["order"]["backtrack"]["blockingPoint"]
    assert (en_block["waitingFor"], zh_block["waitingFor"]) == ("outbound", "已出库")
    assert en_block["summary"].startswith("packed -> outbound: 4 h 0 min, at packing station B (")
    assert zh_block["summary"].startswith("已打包 → 已出库：已等待 4小时0分钟，位置 packing station B（")
    assert "操作员 Li Lei (E1024)" in zh_block["summary"]
    assert not CJK.search(str(en))


def decisions(view: Any) -> list[str]:
    return [e["node"]["decision"] for e in view["order"]["timeline"]["systemLog"]["edges"] if e["node"]["decision"]]


async def test_the_system_log_gives_its_decisions_in_the_readers_language(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    order = await paid_order(api, creds)
    now = utcnow()
    await request_ship(api, who, order["id"], now - timedelta(hours=5))
    packed = scan("PACKED", now - timedelta(hours=4), "S-9")
    first = await api.gql(WAREHOUSE, {"input": packed}, headers={**creds.wms_only, "Accept-Language": "zh-CN"})
    assert first["data"]["recordWarehouseEvent"]["decision"] == "已申请发货 → 已打包"
    resent = await api.gql(WAREHOUSE, {"input": packed}, headers={**creds.wms_only, "Accept-Language": "en"})
    assert resent["data"]["recordWarehouseEvent"]["repeated"] is True
    assert resent["data"]["recordWarehouseEvent"]["decision"] == "ship request -> packed"
    again = scan("PACKED", now - timedelta(hours=3), "S-10")
    held = await api.gql(WAREHOUSE, {"input": again}, headers={**creds.wms_only, "Accept-Language": "zh-CN"})
    assert held["data"]["recordWarehouseEvent"]["outcome"] == "HELD"
    assert held["data"]["recordWarehouseEvent"]["decision"] == "暂扣待审核：SCAN_PACKED 重复扫描"

    zh, en = await both(api, TIMELINE, {"id": order["id"]}, creds.admin)
    assert machine(zh, frozenset({"label", "summary", "text", "waitingFor", "decision"})) == machine(
        en, frozenset({"label", "summary", "text", "waitingFor", "decision"})
    )
    assert decisions(zh) == ["已申请发货 → 已打包", "暂扣待审核：SCAN_PACKED 重复扫描"]
    assert decisions(en) == ["ship request -> packed", "held for review: SCAN_PACKED scanned again"]
    assert not CJK.search(str(en))

    async with api.runtime.core.sessions() as session:
        events = (await session.exec(select(OrderEvent).order_by(col(OrderEvent.id)))).all()
    moved, noted = [e for e in events if "decision" in e.data]
    # the English stays as machine readers have always read it, the sentence is kept beside it as JSON
    assert (moved.data["decision"], noted.data["decision"]) == (
        "SHIP_REQUESTED -> PACKED",
        "held for review: SCAN_PACKED scanned again",
    )
    assert moved.data["decision_sentence"] == {
        "message": "{from_step} -> {to_step}",
        "params": {
            "from_step": {"message": "ship request", "params": {}},
            "to_step": {"message": "packed", "params": {}},
        },
    }
    json.dumps(noted.data)

    old = {k: v for k, v in moved.data.items() if k != "decision_sentence"}  # written before sentences were kept
    async with api.runtime.core.sessions() as session, session.begin():
        await session.exec(update(OrderEvent).where(col(OrderEvent.id) == moved.id).values(data=old))
    zh, en = await both(api, TIMELINE, {"id": order["id"]}, creds.admin)
    assert decisions(zh)[0] == decisions(en)[0] == "SHIP_REQUESTED -> PACKED"
    assert decisions(zh)[1] == "暂扣待审核：SCAN_PACKED 重复扫描"


async def test_health_titles_and_stored_exception_summaries_speak_the_callers_language(
    api: Api, creds: Credentials
) -> None:
    who = await callers(api)
    stuck = await paid_order(api, creds, "S-1")
    await request_ship(api, who, stuck["id"], utcnow() - timedelta(hours=5))
    assert await find_stuck_shipments({"runtime": api.runtime}) == 1
    async with api.runtime.core.sessions() as session:
        [row] = (await session.exec(select(OrderException))).all()
    assert row.summary == "no outbound 5 h after the ship request, at WH-SH-01"  # the row keeps English, and the key
    assert row.details["summary"] == {
        "message": "no outbound {hours} h after the ship request, at {place}",
        "params": {"hours": 5, "place": "WH-SH-01"},
    }

    variables = {"first": 10, "filter": {"states": ["OPEN"]}}
    zh, en = await both(api, EXCEPTIONS, variables, creds.cs)
    assert machine(zh, frozenset({"summary"})) == machine(en, frozenset({"summary"}))
    [zh_case] = [e["node"] for e in zh["orderExceptions"]["edges"]]
    [en_case] = [e["node"] for e in en["orderExceptions"]["edges"]]
    assert (en_case["summary"], zh_case["summary"]) == (
        "no outbound 5 h after the ship request, at WH-SH-01",
        "申请发货 5 小时后仍未出库，位置 WH-SH-01",
    )

    zh, en = await both(api, HEALTH, {}, creds.admin)
    assert machine(zh, frozenset({"title", "formula"})) == machine(en, frozenset({"title", "formula"}))
    pairs = zip(en["health"]["metrics"], zh["health"]["metrics"], strict=True)
    titles = {m["metric"]: (m["title"], z["title"]) for m, z in pairs}
    assert titles["STATUS_DRIFT"] == ("status drift rate", "状态漂移率")
    assert titles["EXCEPTION_CLOSURE"] == ("exception closure rate", "异常关闭率")
    assert all(CJK.search(m["formula"]) for m in zh["health"]["metrics"])
    assert not CJK.search(str(en))
