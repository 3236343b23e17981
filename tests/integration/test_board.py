"""The health board in a real headless Chromium against a real server: what the page shows is what the API says."""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from api.app import create_app
from domain.clock import utcnow
from domain.fulfilment.models import OrderException
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import callers, request_ship
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.push_client import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HEALTH = (
    """query { health(input: {period: "DAY"}) { metrics { metric numerator denominator value threshold healthy } } }"""
)
TREND = """query { healthTrend(input: {period: "DAY", count: 7}) {
  series { metric points { from numerator denominator value } } } }"""
WITHDRAW = """mutation($input: WithdrawShipmentRequestInput!) { withdrawShipmentRequest(input: $input) {
  userErrors { code } } }"""


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium must be installed in CI (make test installs it)")
        pytest.skip("chromium not installed")
    return CHROMIUM


async def _seed(api: Api, creds: Credentials) -> None:
    """Four orders today: one ship click taken back and clicked again (drift), two without utm_source, one late
    exception and one closed in time. Minutes, not hours, before now: the board shows the merchant's day, which
    in Shanghai starts at 16:00 UTC."""
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


async def _gauges(page: Page) -> dict[str, dict[str, Any]]:
    cards: list[dict[str, Any]] = await page.eval_on_selector_all(
        ".gauge",
        """cards => cards.map(c => ({metric: c.dataset.metric, numerator: c.querySelector('.numerator').textContent,
            denominator: c.querySelector('.denominator').textContent, value: c.dataset.value,
            threshold: c.dataset.threshold, verdict: c.querySelector('.verdict').textContent,
            shown: c.querySelector('.value').textContent}))""",
    )
    return {c["metric"]: c for c in cards}


def _verdict(healthy: bool | None) -> str:
    return "no data" if healthy is None else "healthy" if healthy else "unhealthy"


async def test_board_shows_the_apis_numbers_and_drills_down(api: Api, creds: Credentials, chromium: str) -> None:
    await _seed(api, creds)
    async with serving(create_app(runtime=api.runtime)) as ws_url, async_playwright() as playwright:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = await browser.new_page(timezone_id="America/Los_Angeles")  # the merchant's clock, not the browser's
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            token = creds.admin["Authorization"].removeprefix("Bearer ")
            await page.goto(f"{base}/board#token={token}")
            await page.wait_for_selector("body[data-loaded=true]")
            assert "token=" not in page.url  # the token leaves the address bar at once

            shown = await _gauges(page)
            metrics = (await api.gql(HEALTH, headers=creds.admin))["data"]["health"]["metrics"]
            assert set(shown) == {m["metric"] for m in metrics} and len(shown) == 5
            for m in metrics:
                card = shown[m["metric"]]
                assert (int(card["numerator"]), int(card["denominator"])) == (m["numerator"], m["denominator"])
                assert card["value"] == ("" if m["value"] is None else _js_number(m["value"]))
                assert float(card["threshold"]) == m["threshold"]
                assert card["verdict"] == _verdict(m["healthy"])
            assert shown["STATUS_DRIFT"]["verdict"] == "unhealthy" and int(shown["STATUS_DRIFT"]["numerator"]) == 2
            assert shown["VOUCHER_MATCH"]["shown"] == "—"

            series = (await api.gql(TREND, headers=creds.admin))["data"]["healthTrend"]["series"]
            for s in series:
                dots = await page.eval_on_selector_all(
                    f'.trend-card[data-metric="{s["metric"]}"] circle',
                    "ds => ds.map(d => [d.dataset.from, d.dataset.numerator, d.dataset.denominator])",
                )
                expected = [
                    [p["from"], str(p["numerator"]), str(p["denominator"])]
                    for p in s["points"]
                    if p["value"] is not None
                ]
                assert dots == expected, s["metric"]

            await page.click('.gauge[data-metric="STATUS_DRIFT"]')
            await page.wait_for_selector('#drilldown-body[data-metric="STATUS_DRIFT"] tbody tr')
            rows = await page.eval_on_selector_all("#drilldown-body tbody tr", "rs => rs.map(r => r.innerText)")
            assert len(rows) == 1 and "T-1" in rows[0] and "SHIP_REQUESTED→PAID" in rows[0], rows

            await page.click('.gauge[data-metric="CHANNEL_ATTRIBUTION"]')
            await page.wait_for_selector('#drilldown-body[data-metric="CHANNEL_ATTRIBUTION"] tbody tr')
            rows = await page.eval_on_selector_all("#drilldown-body tbody tr", "rs => rs.map(r => r.innerText)")
            assert sorted(r.split("\t")[0] for r in rows) == [
                "https://shop.example/live",
                "https://shop.example/spring",
            ]

            await page.click('.gauge[data-metric="EXCEPTION_CLOSURE"]')
            await page.wait_for_selector('#drilldown-body[data-metric="EXCEPTION_CLOSURE"] table')
            computed = await page.inner_text("#computed-at")
            assert re.match(r"DAY \d{4}-\d\d-\d\d 00:00 – \d{4}-\d\d-\d\d 00:00 \(Asia/Shanghai\)", computed), computed
            await page.fill("#at", "2026-11-24T23:30")  # on the merchant's clock: still the 24th in Shanghai
            await page.click("#period-form button")
            day = "DAY 2026-11-24 00:00 – 2026-11-25 00:00 (Asia/Shanghai)"
            await page.wait_for_selector(f'#computed-at:has-text("{day}")')
            if shot := os.environ.get("BOARD_SCREENSHOT"):  # a PNG path, to look at the page
                await page.screenshot(path=shot, full_page=True)
            assert console_errors == []
        finally:
            await browser.close()


async def test_board_needs_a_staff_sign_in(api: Api, creds: Credentials, chromium: str) -> None:
    async with serving(create_app(runtime=api.runtime)) as ws_url, async_playwright() as playwright:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/board")
            await page.wait_for_selector("#login:not([hidden])")
            assert await page.is_hidden("#board")

            await page.fill("#email", "cs@shop.example")
            await page.fill("#password", "wrong password")
            await page.click("#login-form button")
            await page.wait_for_selector("#error:not([hidden])")
            assert "wrong password" in await page.inner_text("#error")
            assert await page.is_hidden("#board")

            await page.fill("#password", "correct horse battery")
            await page.click("#login-form button")
            await page.wait_for_selector("body[data-loaded=true]")
            assert len(await page.query_selector_all(".gauge")) == 5

            stranger = await browser.new_page()
            await stranger.goto(f"{base}/board#token={creds.reader['X-Api-Key']}")
            await stranger.wait_for_selector("#login:not([hidden])")
            assert await stranger.is_hidden("#board")
            assert "authentication required" in await stranger.inner_text("#error")
        finally:
            await browser.close()


def _js_number(value: float) -> str:
    """How the page's dataset prints a number (JavaScript's shortest round-trip form, as Python's repr)."""
    text = repr(value)
    return text.removesuffix(".0") if text.endswith(".0") else text
