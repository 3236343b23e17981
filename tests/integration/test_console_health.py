"""The console's Health page in a real headless Chromium against a real server: every gauge, trend point,
drill-down row and lead time on the page is the API's; every role opens it; Chinese and English render whole."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from domain.i18n.catalogs import catalog
from domain.orders.models import Order
from tests.conftest import Api, Credentials
from tests.integration.console_fixtures import (
    console,
    missing_keys,
    shot,
    staff_tokens,
    tab_through,
)
from tests.integration.fulfilment_fixtures import callers, request_ship
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

HEALTH = """query($input: HealthInput) { health(input: $input) {
  period from to metrics { metric title numerator denominator value threshold healthy } } }"""
TREND = """query { healthTrend(input: {period: "DAY", count: 7}) {
  series { metric points { from numerator denominator value } } } }"""
LEAD = """query { fulfilmentLeadTimes { from to days { warehouse day
  toOutbound { count medianHours p90Hours } toDelivery { count medianHours p90Hours } } } }"""
WITHDRAW = """mutation($input: WithdrawShipmentRequestInput!) { withdrawShipmentRequest(input: $input) {
  userErrors { code } } }"""


async def _seed(api: Api, creds: Credentials) -> None:
    """Four orders today: one ship click taken back and clicked again (drift), two without utm_source, one late
    exception and one closed in time; and a warehouse whose request-to-outbound time fell from 8.3 h three days
    ago to 2.1 h today. Minutes, not hours, before now: the page shows the merchant's day, which in Shanghai
    starts at 16:00 UTC."""
    who = await callers(api)
    placed = utcnow() - timedelta(minutes=6)
    ids = {}
    for cid, channel, attribution in (
        ("T-1", "TAOBAO", {"utmSource": "taobao"}),
        ("T-2", "TAOBAO", {"landingUrl": "https://shop.example/spring"}),
        ("D-3", "DOUYIN", {"landingUrl": "https://shop.example/live"}),
        ("D-4", "DOUYIN", {"utmSource": "douyin"}),
    ):
        order = order_input(cid, channel=channel, status="PAID", placedAt=placed.isoformat(),
                            paidAt=(placed + timedelta(minutes=1)).isoformat(), attribution=attribution)  # fmt: skip
        done = await api.gql(SUBMIT_ORDER, {"input": order}, headers=creds.writer)
        assert done["data"]["submitOrder"]["userErrors"] == [], done
        ids[cid] = done["data"]["submitOrder"]["order"]["id"]
    now = utcnow()
    await request_ship(api, who, ids["T-1"], now - timedelta(minutes=4))
    withdrawn = await api.gql(WITHDRAW, {"input": {"orderId": ids["T-1"], "reason": "wrong parcel"}}, headers=who.ops)
    assert withdrawn["data"]["withdrawShipmentRequest"]["userErrors"] == []
    await request_ship(api, who, ids["T-1"], now - timedelta(minutes=1))
    async with api.runtime.core.sessions() as session, session.begin():
        for hours_ago, took in ((2, 1), (1, None)):
            opened = now - timedelta(hours=hours_ago)
            resolved = None if took is None else opened + timedelta(hours=took)
            session.add(OrderException(kind="STUCK_AFTER_SHIP_REQUEST", state="OPEN", summary="no scan",
                                       opened_at=opened, resolved_at=resolved, details={}))  # fmt: skip
        for n, (days_ago, took) in enumerate(((3, 8.3), (3, 8.3), (0, 2.1), (0, 2.1))):
            out = now - timedelta(days=days_ago, minutes=5)
            session.add(Order(
                channel="JD", channel_order_id=f"L-{n}", status="DELIVERED", currency="CNY", items_amount=100,
                shipping_amount=0, discount_amount=0, total_amount=100, warehouse_code="WH-GZ",
                placed_at=out - timedelta(days=1), created_at=now, updated_at=now,
                ship_requested_at=out - timedelta(hours=took), shipped_at=out,
                delivered_at=out + timedelta(minutes=3) if days_ago == 0 else None,
            ))  # fmt: skip


async def _gauges(page: Page) -> dict[str, dict[str, Any]]:
    cards: list[dict[str, Any]] = await page.eval_on_selector_all(
        ".gauge",
        """cards => cards.map(c => ({metric: c.dataset.metric, numerator: c.querySelector('.numerator').textContent,
            denominator: c.querySelector('.denominator').textContent, value: c.dataset.value,
            threshold: c.dataset.threshold, healthy: c.dataset.healthy, title: c.querySelector('.title').textContent,
            verdict: c.querySelector('.verdict').textContent, shown: c.querySelector('.value').textContent}))""",
    )
    return {c["metric"]: c for c in cards}


def _verdict(healthy: bool | None, language: str) -> str:
    key = "no data" if healthy is None else "healthy" if healthy else "unhealthy"
    return catalog(language)[key]


async def _same_gauges(page: Page, api: Api, headers: dict[str, str], language: str, period: str = "DAY") -> None:
    shown = await _gauges(page)
    answer = await api.gql(HEALTH, {"input": {"period": period}}, headers={**headers, "Accept-Language": language})
    metrics = answer["data"]["health"]["metrics"]
    assert set(shown) == {m["metric"] for m in metrics} and len(shown) == 5
    for m in metrics:
        card = shown[m["metric"]]
        assert (int(card["numerator"]), int(card["denominator"])) == (m["numerator"], m["denominator"])
        assert card["value"] == ("" if m["value"] is None else _js_number(m["value"]))
        assert float(card["threshold"]) == m["threshold"]
        assert card["healthy"] == ("" if m["healthy"] is None else str(m["healthy"]).lower())
        assert card["verdict"] == _verdict(m["healthy"], language)
        assert card["title"] == m["title"]


async def _rows(page: Page, selector: str) -> list[str]:
    rows: list[str] = await page.eval_on_selector_all(selector, "rs => rs.map(r => r.innerText)")
    return rows


async def test_health_page_shows_the_apis_numbers(api: Api, creds: Credentials, chromium: str, tmp_path: Path) -> None:
    await _seed(api, creds)
    tokens = await staff_tokens(api.runtime, ("admin",))
    staff = {"Authorization": f"Bearer {tokens['admin']}"}
    async with console(api.runtime, chromium) as browser:
        page = await browser.open(tokens["admin"], "health", "zh-CN")
        assert await page.get_attribute("#nav a[aria-current=page]", "data-page") == "health"
        await _same_gauges(page, api, staff, "zh-CN")
        shown = await _gauges(page)
        assert shown["STATUS_DRIFT"]["healthy"] == "false" and int(shown["STATUS_DRIFT"]["numerator"]) == 2
        assert shown["VOUCHER_MATCH"]["shown"] == "—"

        series = (await api.gql(TREND, headers=staff))["data"]["healthTrend"]["series"]
        for s in series:
            dots = await page.eval_on_selector_all(
                f'.trend-card[data-metric="{s["metric"]}"] circle',
                "ds => ds.map(d => [d.dataset.from, d.dataset.numerator, d.dataset.denominator])",
            )
            expected = [
                [p["from"], str(p["numerator"]), str(p["denominator"])] for p in s["points"] if p["value"] is not None
            ]
            assert dots == expected, s["metric"]

        lead = (await api.gql(LEAD, headers=staff))["data"]["fulfilmentLeadTimes"]["days"]
        await page.wait_for_selector("#lead-table")  # drawn when its answer comes, after the gauges
        table = await page.eval_on_selector_all(
            "#lead-table tbody tr",
            """rs => rs.map(r => ({warehouse: r.dataset.warehouse, day: r.dataset.day,
                outbound: [r.dataset.outboundCount, r.dataset.outboundMedian, r.dataset.outboundP90],
                delivery: [r.dataset.deliveryCount, r.dataset.deliveryMedian, r.dataset.deliveryP90],
                text: r.innerText}))""",
        )
        assert len(table) == len(lead) and lead
        for row, day in zip(table, lead, strict=True):
            assert (row["warehouse"], row["day"]) == (day["warehouse"] or "", day["day"])
            for leg, key in (("outbound", "toOutbound"), ("delivery", "toDelivery")):
                want = day[key]
                assert row[leg] == [
                    str(want["count"]),
                    "" if want["medianHours"] is None else _js_number(want["medianHours"]),
                    "" if want["p90Hours"] is None else _js_number(want["p90Hours"]),
                ]
        gz = [(d["day"], d["toOutbound"]["medianHours"]) for d in lead if d["warehouse"] == "WH-GZ"]
        assert [h for _, h in gz] == [8.3, 2.1]  # the improvement, three days apart
        gz_rows = [r["text"] for r in table if r["warehouse"] == "WH-GZ"]
        assert "8.3" in gz_rows[0] and "2.1" in gz_rows[1]

        # One warehouse's lead times: arrowing through the choices reloads nothing, Show does.
        before = page.url
        await page.focus("#lead-warehouse")
        await page.keyboard.press("ArrowDown")
        await page.wait_for_timeout(300)
        assert page.url == before and await page.is_visible("#lead-table")
        await page.select_option("#lead-warehouse", "WH-GZ")
        await page.keyboard.press("Tab")  # to its Show button
        await page.keyboard.press("Enter")
        await page.wait_for_url("**warehouse=WH-GZ**", wait_until="commit")
        await page.wait_for_selector("body[data-loaded=true] #lead-table")
        only = await page.eval_on_selector_all("#lead-table tbody tr", "rs => rs.map(r => r.dataset.warehouse)")
        assert only == ["WH-GZ", "WH-GZ"]

        await page.click('.gauge[data-metric="STATUS_DRIFT"]')
        await page.wait_for_selector('#drilldown-body[data-metric="STATUS_DRIFT"] tbody tr')
        rows = await _rows(page, "#drilldown-body tbody tr")
        assert len(rows) == 1 and "T-1" in rows[0] and "SHIP_REQUESTED→PAID" in rows[0], rows
        assert await page.inner_text("#drilldown-title") == shown["STATUS_DRIFT"]["title"]

        await page.click('.gauge[data-metric="CHANNEL_ATTRIBUTION"]')
        await page.wait_for_selector('#drilldown-body[data-metric="CHANNEL_ATTRIBUTION"] tbody tr')
        rows = await _rows(page, "#drilldown-body tbody tr")
        assert sorted(r.split("\t")[0] for r in rows) == ["https://shop.example/live", "https://shop.example/spring"]

        await page.click('.gauge[data-metric="EXCEPTION_CLOSURE"]')
        await page.wait_for_selector('#drilldown-body[data-metric="EXCEPTION_CLOSURE"] table')
        await shot(page, tmp_path, "health-zh-CN")
        assert await missing_keys(page) == []

        focus = await tab_through(page, presses=60)
        reached = {f["tag"] for f in focus}
        assert {"a", "select", "input", "button"} <= reached, focus
        assert [f for f in focus if f["visible"] != "true"] == [], focus
        assert sum(1 for f in focus if f["tag"] == "button") >= 5 + 2  # five gauges, Show, sign out

        # The period form: an hour on the merchant's clock, and the page follows the address.
        await page.select_option("#health-period", "HOUR")
        await page.click("#health-form button[type=submit]")
        await page.wait_for_selector("div[data-page=health][data-period=HOUR]")
        await page.wait_for_selector("body[data-loaded=true]")
        assert "period=HOUR" in page.url
        await _same_gauges(page, api, staff, "zh-CN", "HOUR")

        english = await browser.open(tokens["admin"], "health?metric=STATUS_DRIFT", "en")
        await english.wait_for_selector('#drilldown-body[data-metric="STATUS_DRIFT"] tbody tr')
        await _same_gauges(english, api, staff, "en")
        await english.wait_for_selector("#lead-title")
        assert await english.inner_text("#lead-title") == "Fulfilment lead time"
        await shot(english, tmp_path, "health-en")
        assert await missing_keys(english) == []


async def test_every_role_opens_health_and_strangers_sign_in(api: Api, creds: Credentials, chromium: str) -> None:
    tokens = await staff_tokens(api.runtime, ("ops", "cs", "finance"))
    async with console(api.runtime, chromium) as browser:
        for role, token in tokens.items():
            page = await browser.open(token, "health", "en")
            assert await page.get_attribute("#nav a[data-page=health]", "href") == "#/health", role
            assert len(await page.query_selector_all(".gauge")) == 5, role
            await page.close()

        assert browser.errors == []
        stranger = await browser.browser.new_page()
        await stranger.add_init_script(f"sessionStorage.setItem('orderhub.staffToken', {creds.reader['X-Api-Key']!r})")
        await stranger.goto(f"{browser.base}/console?lang=en#/health")
        await stranger.wait_for_selector("#login:not([hidden])")
        assert await stranger.query_selector(".gauge") is None
        assert await stranger.get_attribute("body", "data-page") is None
        browser.errors.clear()  # the refused token is reported on the browser console, as it should be


def _js_number(value: float) -> str:
    """How the page's dataset prints a number (JavaScript's shortest round-trip form, as Python's repr)."""
    text = repr(value)
    return text.removesuffix(".0") if text.endswith(".0") else text
