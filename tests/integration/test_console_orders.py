"""The console's "Find an order" and "Exceptions" pages in a real browser: what they show is what the API says,
the controls a role may not use are not there, both languages render every sentence, focus shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from api.graphql.ids import decode_gid
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from domain.i18n.catalogs import catalog
from domain.outbox.service import Outbox
from domain.prediction.service import StoredPrediction, store_prediction
from tests.conftest import Api, Credentials
from tests.integration.console_fixtures import console, loaded, missing_keys, shot, staff_tokens, tab_through
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, confirmation, request_ship, scan
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

MONEY = "{ amount currencyCode }"
DETAIL = f"""query($id: ID!) {{ order(id: $id) {{ id channelOrderId status buyerUid totalAmount {MONEY}
  timeline {{ flow {{ status }} systemLog(first: 100) {{ nodes {{ version }} }} }}
  backtrack {{ stages {{ fromStatus }} blockingPoint {{ status station zone warehouseCode operator }} }}
  money {{ amountDue {MONEY} amountReceived {MONEY} balance {MONEY} }} }}
  orderExceptions(first: 50, filter: {{orderId: $id}}) {{ nodes {{ id }} }} }}"""
BY_BUYER = "query($uid: String!) { orders(first: 20, filter: {buyerUid: $uid}) { nodes { channelOrderId } } }"
WAREHOUSES = "query { warehouses(first: 100) { nodes { code openExceptions } } }"
QUEUE = """query($filter: OrderExceptionFilter) { orderExceptions(first: 50, filter: $filter) {
  nodes { id state closeBy assignedTo resolution holdsEvidence order { channelOrderId } } } }"""


def _money(m: dict[str, str]) -> str:
    return f"{m['amount']} {m['currencyCode']}"


async def _texts(page: Page, selector: str) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(selector, "es => es.map(e => e.innerText.trim())")
    return found


async def _order(api: Api, creds: Credentials, cid: str, warehouse: str, minutes_ago: int) -> str:
    placed = utcnow() - timedelta(minutes=minutes_ago)
    given = order_input(cid, status="PAID", placedAt=placed.isoformat(), warehouseCode=warehouse,
                        paidAt=(placed + timedelta(minutes=1)).isoformat())  # fmt: skip
    done = await api.gql(SUBMIT_ORDER, {"input": given}, headers=creds.writer)
    assert done["data"]["submitOrder"]["userErrors"] == [], done
    gid: str = done["data"]["submitOrder"]["order"]["id"]
    return gid


async def _case(api: Api, order: str | None, hours_ago: float, summary: str, **extra: Any) -> None:
    key = None if order is None else decode_gid(order, "Order")[1]
    async with api.runtime.core.sessions() as session, session.begin():
        values: dict[str, Any] = {"kind": "WAREHOUSE_EXCEPTION", "state": "OPEN", "summary": summary, "order_id": key,
                                  "opened_at": utcnow() - timedelta(hours=hours_ago), "details": {}}  # fmt: skip
        session.add(OrderException(**(values | extra)))


async def test_find_an_order(api: Api, creds: Credentials, chromium: str, tmp_path: Path) -> None:
    """Both orders share the fixture's buyer: a buyer UID finds two; the one that moved shows its flow, its log,
    where it is blocked (station, operator) and its exception."""
    who = await callers(api)
    moved = await _order(api, creds, "F-100", "WH-SH-01", 20)
    await _order(api, creds, "F-101", "WH-SH-01", 15)
    now = utcnow()
    await request_ship(api, who, moved, now - timedelta(minutes=10))
    picked = await api.gql(WAREHOUSE, {"input": scan("PICKED", now - timedelta(minutes=5), "P-1", code="F-100")},
                           headers=creds.wms_only)  # fmt: skip
    assert picked["data"]["recordWarehouseEvent"]["userErrors"] == [], picked
    await _case(api, moved, 0.1, "parcel on the floor")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(hours=2)
    guess = StoredPrediction(soon, "SHIPPED", soon - timedelta(minutes=30), soon + timedelta(hours=1), None, "BASELINE")
    async with api.runtime.core.sessions() as session, session.begin():
        assert await store_prediction(session, Outbox(), decode_gid(moved, "Order")[1], guess)
    tokens = await staff_tokens(api.runtime, ("cs", "finance"))
    zh = catalog("zh-CN")

    detail = (await api.gql(DETAIL, {"id": moved}, headers=creds.admin))["data"]
    order = detail["order"]
    point = order["backtrack"]["blockingPoint"]
    assert point["station"] == "packing station B" and point["operator"]
    found = await api.gql(BY_BUYER, {"uid": order["buyerUid"]}, headers=creds.admin)
    numbers = [o["channelOrderId"] for o in found["data"]["orders"]["nodes"]]
    assert sorted(numbers) == ["F-100", "F-101"]

    async with console(api.runtime, chromium) as browser:
        page = await browser.open(tokens["cs"], f"orders?q={order['buyerUid']}")
        assert await _texts(page, ".order-results tbody td:nth-child(2)") == numbers
        await shot(page, tmp_path, "orders-results-zh-CN")
        by_number = await browser.open(tokens["cs"], "orders?q=F-101")  # one match opens the order at once
        await by_number.wait_for_selector('[data-field="channelOrderId"]')
        assert await by_number.inner_text('[data-field="channelOrderId"]') == "F-101"
        await by_number.close()
        await page.click('.order-results tr:has-text("F-100") a')
        await page.wait_for_selector(f'[data-order="{moved}"]')
        await loaded(page)

        assert await page.inner_text('[data-field="channelOrderId"]') == "F-100"
        assert await page.inner_text('[data-field="total"]') == _money(order["totalAmount"])
        assert await page.inner_text('[data-field="status"]') == zh["Picked"]
        for name in ("amountDue", "amountReceived", "balance"):
            assert await page.inner_text(f'[data-field="{name}"]') == _money(order["money"][name])
        assert len(await _texts(page, "ol.flow li")) == len(order["timeline"]["flow"])
        log = await _texts(page, ".system-log tbody td:first-child")
        assert log == [str(e["version"]) for e in order["timeline"]["systemLog"]["nodes"]]
        assert len(await _texts(page, ".stages tbody tr")) == len(order["backtrack"]["stages"])
        place = await page.inner_text('[data-field="blockingPlace"]')
        assert point["station"] in place and point["warehouseCode"] in place
        assert await page.inner_text('[data-field="blockingOperator"]') == point["operator"]
        assert await page.inner_text('[data-field="blockingStatus"]') == zh["Picked"]
        assert len(await _texts(page, ".order-exceptions tbody tr")) == len(detail["orderExceptions"]["nodes"]) == 1
        clock = ZoneInfo(api.runtime.settings.merchant_timezone)
        shown = await page.inner_text('[data-field="prediction"]')
        for moment in (guess.at, guess.low, guess.high):
            assert moment is not None and moment.astimezone(clock).strftime("%Y-%m-%d %H:%M") in shown, shown
        assert zh["Outbound"] in shown and zh["per-stage median"] in shown
        assert await missing_keys(page) == []
        assert "null" not in await page.inner_text("#page")
        await shot(page, tmp_path, "orders-detail-zh-CN")

        focus = await tab_through(page, 60)
        assert {"input", "button", "a"} <= {f["tag"] for f in focus}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        await page.click('a[href^="#/exceptions?order="]')
        await page.wait_for_selector("table.exceptions")
        await loaded(page)
        assert await _texts(page, "table.exceptions tbody td:nth-child(4)") == ["F-100"]

        english = await browser.open(tokens["finance"], f"orders?id={moved}", language="en")
        assert await english.inner_text('[data-field="status"]') == "Picked"
        assert await english.inner_text("#nav a[aria-current=page]") == "Find an order"
        assert await missing_keys(english) == []
        await shot(english, tmp_path, "orders-detail-en")

        nothing = await browser.open(tokens["cs"], "orders?q=no-such-buyer")
        assert await nothing.inner_text('[data-field="found"]') == zh["{count} orders found"].replace("{count}", "0")


async def test_exceptions_queue(api: Api, creds: Credentials, chromium: str, tmp_path: Path) -> None:
    sh = await _order(api, creds, "E-1", "WH-SH-01", 30)
    bj = await _order(api, creds, "E-2", "WH-BJ-02", 25)
    await _case(api, sh, 80, "no outbound for three days")
    await _case(api, bj, 2, "carton damaged")
    await _case(api, None, 1, "scan for an unknown order")
    await _case(api, sh, 5, "already handled", state="RESOLVED", resolved_at=utcnow() - timedelta(hours=4),
                resolver="staff:ops@shop.example", resolution="re-packed")  # fmt: skip
    tokens = await staff_tokens(api.runtime, ("admin", "cs", "finance"))
    zh = catalog("zh-CN")

    queue = (await api.gql(QUEUE, {"filter": {"states": ["OPEN"]}}, headers=creds.cs))["data"]["orderExceptions"]
    overdue = [c for c in queue["nodes"] if c["closeBy"] < utcnow().isoformat()]
    assert len(queue["nodes"]) == 3 and len(overdue) == 1

    async with console(api.runtime, chromium) as browser:
        page = await browser.open(tokens["cs"], "exceptions")
        assert await page.inner_text('[data-field="shown"]') == str(len(queue["nodes"]))
        assert await page.inner_text('[data-field="overdue"]') == str(len(overdue))
        assert len(await _texts(page, "table.exceptions tbody tr")) == 3
        late = await _texts(page, "table.exceptions tr:has(.clock.late) td:nth-child(4)")
        assert late == [overdue[0]["order"]["channelOrderId"]] == ["E-1"], late
        assert await missing_keys(page) == []
        assert "null" not in await page.inner_text("#page")
        await shot(page, tmp_path, "exceptions-zh-CN")

        focus = await tab_through(page, 60)
        assert {"select", "button", "a"} <= {f["tag"] for f in focus}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        # The warehouse is picked from those orderhub has seen (with their open cases), by keyboard.
        seen = (await api.gql(WAREHOUSES, headers=creds.cs))["data"]["warehouses"]["nodes"]
        assert [w["code"] for w in seen] == ["WH-BJ-02", "WH-SH-01"]
        offered = await page.eval_on_selector_all("#filter-warehouse option", "os => os.map(o => o.value)")
        assert offered == ["", "WH-BJ-02", "WH-SH-01"]
        label = zh["{warehouse} ({count} open)"].format(warehouse="WH-BJ-02", count=seen[0]["openExceptions"])
        assert await page.inner_text('#filter-warehouse option[value="WH-BJ-02"]') == label
        await page.focus("#filter-warehouse")
        await page.keyboard.press("ArrowDown")
        assert await page.input_value("#filter-warehouse") == "WH-BJ-02"
        await page.click(".filters button[type=submit]")
        await page.wait_for_selector("table.exceptions tbody tr:only-child")
        await loaded(page)
        only = await api.gql(QUEUE, {"filter": {"states": ["OPEN"], "warehouseCode": "WH-BJ-02"}}, headers=creds.cs)
        [case] = only["data"]["orderExceptions"]["nodes"]
        assert await _texts(page, "table.exceptions tbody td:nth-child(4)") == [case["order"]["channelOrderId"]]
        assert await _texts(page, "table.exceptions tbody td:nth-child(5)") == ["WH-BJ-02"]

        await page.select_option("select.assignee", "staff:admin-console@shop.example")
        await page.click("button.assign")
        await page.wait_for_selector("#status:not(:empty)")
        after = await api.gql(QUEUE, {"filter": {"warehouseCode": "WH-BJ-02"}}, headers=creds.cs)
        assert after["data"]["orderExceptions"]["nodes"][0]["assignedTo"] == "staff:admin-console@shop.example"

        await page.click("button.resolve")
        await page.wait_for_selector("#confirm[open]")
        await page.fill("#confirm-reason", "carrier took it back")
        await page.click("#confirm-ok")
        await page.wait_for_selector(".queue p.empty")
        done = await api.gql(QUEUE, {"filter": {"warehouseCode": "WH-BJ-02"}}, headers=creds.cs)
        closed = done["data"]["orderExceptions"]["nodes"][0]
        assert (closed["state"], closed["resolution"]) == ("RESOLVED", "carrier took it back")
        assert await page.inner_text('[data-field="shown"]') == "0"

        # Outbound evidence held by the shipped rule (a confirmation a minute after the ship request): ops and
        # admin may ship with it, cs may not.
        held = await _order(api, creds, "E-3", "WH-SH-01", 20)
        await request_ship(api, await callers(api), held, utcnow() - timedelta(minutes=2))
        sent = await api.gql(WAREHOUSE, {"input": confirmation(utcnow() - timedelta(minutes=1), "DO-E3", code="E-3")},
                             headers=creds.wms_only)  # fmt: skip
        assert sent["data"]["recordWarehouseEvent"]["outcome"] == "HELD", sent
        cs = await browser.open(tokens["cs"], "exceptions?warehouse=WH-SH-01")
        assert await cs.query_selector_all("button.resolve") and not await cs.query_selector_all("button.apply-held")

        everything = await api.gql(QUEUE, {"filter": {}}, headers=creds.cs)
        count = len(everything["data"]["orderExceptions"]["nodes"])
        # Finance reads the queue but may neither assign nor resolve: the controls are not there.
        finance = await browser.open(tokens["finance"], "exceptions?state=ALL", language="en")
        assert await finance.inner_text('[data-field="shown"]') == str(count)
        assert await finance.query_selector_all("button.resolve, button.assign, select.assignee") == []
        assert "Closed in time" in await _texts(finance, "table.exceptions .clock")
        assert await missing_keys(finance) == []
        await shot(finance, tmp_path, "exceptions-en")

        admin = await browser.open(tokens["admin"], "exceptions", language="en")
        still_open = [c for c in everything["data"]["orderExceptions"]["nodes"] if c["state"] == "OPEN"]
        assert len(await admin.query_selector_all("button.resolve")) == len(still_open)
        await admin.click("button.apply-held")
        await admin.wait_for_selector("#confirm[open]")
        await admin.fill("#confirm-reason", "the warehouse clock was right")
        await admin.click("#confirm-ok")
        await admin.wait_for_selector("#status:not(:empty)")
        shipped = await api.gql("query($id: ID!) { order(id: $id) { status } }", {"id": held}, headers=creds.admin)
        assert shipped["data"]["order"]["status"] == "SHIPPED"
        assert not await admin.query_selector_all("button.apply-held")
        assert await missing_keys(admin) == []
