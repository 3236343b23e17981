"""The console's Money and Buyers pages in a real headless Chromium: a statement dropped on the page is imported
and reconciled, the figures on the page are the API's, a payment is reversed with a reason, a `cs` account
gets neither the page nor the reversal; matches are decided, groups split, and the duplicate heatmap's totals
are the API's. Both languages render from the catalogs, and every control shows its keyboard focus."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.outbox.service import Outbox
from runtime.process import Runtime
from sim.statements import BillRow, wechat_trade_bill
from tests.conftest import Api, Credentials
from tests.integration.console_fixtures import console, loaded, missing_keys, shot, staff_tokens, tab_through
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from workers.jobs import group_pending_orders

DAY = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
RUN = """query($id: ID!) { reconRun(id: $id) { matched statementLines matchRate gapsClosedByQuery
  drifts { drift count } items(first: 100) { nodes { id drift resolution note voucherId } } } }"""
RESOLVE = """mutation($input: ResolveReconItemInput!) { resolveReconItem(input: $input) {
  item { resolution } userErrors { code } } }"""
REVERSE = """mutation($input: ReverseVoucherInput!) { reverseVoucher(input: $input) { userErrors { code } } }"""
HEATMAP = """query($from: DateTime!, $to: DateTime!) { duplicateHeatmap(placedFrom: $from, placedTo: $to) {
  orders duplicates mergedDuplicates paidDuplicates } }"""
HEATMAP_DAYS = """query($from: DateTime!, $to: DateTime!) {
  duplicateHeatmap(placedFrom: $from, placedTo: $to, per: DAY) { hour orders duplicates } }"""
SUGGESTIONS = "query { matchSuggestions(first: 10) { nodes { id status } } }"
GROUPS = "query { orderGroups(first: 10) { nodes { parentOrderId children { channelOrderId status } } } }"


def percent(rate: float) -> str:
    """As lib.js `percent` writes it."""
    return f"{rate * 100:.2f}%"


async def submit(api: Api, creds: Credentials, order_id: str, **overrides: Any) -> dict[str, Any]:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(order_id, **overrides)}, headers=creds.writer)
    assert result["data"]["submitOrder"]["userErrors"] == [], result
    order: dict[str, Any] = result["data"]["submitOrder"]["order"]
    return order


async def drop(page: Page, name: str, data: bytes) -> None:
    """Drops a file on the drop zone the way a browser does: a drop event carrying it in a DataTransfer."""
    transfer = await page.evaluate_handle(
        """([name, b64]) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const t = new DataTransfer(); t.items.add(new File([bytes], name, {type: 'text/csv'})); return t; }""",
        [name, base64.b64encode(data).decode()],
    )
    await page.dispatch_event("[data-drop]", "dragover", {"dataTransfer": transfer})
    await page.dispatch_event("[data-drop]", "drop", {"dataTransfer": transfer})


async def texts(page: Page, selector: str) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.innerText.trim())")
    return found


async def test_money_upload_reconcile_reverse(rt: Runtime, api: Api, creds: Credentials, chromium: str,
                                              tmp_path: Path) -> None:  # fmt: skip
    tokens = await staff_tokens(rt, ("finance", "cs"))
    finance = {"Authorization": f"Bearer {tokens['finance']}"}
    await submit(api, creds, "T1")
    await submit(api, creds, "T2", placedAt="2026-11-24T12:10:00+08:00")
    async with rt.core.sessions() as session, session.begin():
        for txn, ref, amount in (("W1", "T1", 8000), ("W2", "T1", 8000), ("W3", "T2", 9590)):
            item = PaymentNotice(
                "wechatpay", txn, VoucherKind.PAYMENT, ref, amount, "CNY", VoucherStatus.CONFIRMED, DAY
            )
            await post_notice(session, item, outbox=Outbox(), received_at=DAY + timedelta(seconds=30))
    statement = wechat_trade_bill(
        [BillRow(DAY, "W1", "T1", "PAYMENT", 8000, coupon=2000), BillRow(DAY, "W9", "T7", "PAYMENT", 1200)]
    )

    async with console(rt, chromium) as browser:
        page = await browser.open(tokens["finance"], "money", "en")
        assert await page.inner_text("#page h1") == "Money: statements and reconciliation"
        await drop(page, "wx-20261124.csv", statement)
        await page.wait_for_selector("[data-upload-outcome]:has-text('reconciled')")
        assert await page.eval_on_selector("[data-drop] progress", "p => [p.hidden, p.value]") == [False, 1]
        await page.wait_for_selector("[data-run]:not([data-run=''])")
        await page.wait_for_selector("[data-table=items]")
        run_id = await page.get_attribute("[data-run]", "data-run")
        assert run_id and page.url.endswith(f"#/money?run={quote(run_id, safe='')}")
        run = (await api.gql(RUN, {"id": run_id}, headers=finance))["data"]["reconRun"]
        assert await page.inner_text("[data-figure=match-rate]") == percent(run["matchRate"])
        assert await page.inner_text("[data-figure=lines]") == str(run["statementLines"])
        assert await page.inner_text("[data-figure=matched]") == str(run["matched"])
        assert run["statementLines"] == 2 and run["matchRate"] < 1
        counts = await texts(page, "[data-table=drifts] tbody td.number")
        assert [int(c) for c in counts] == [d["count"] for d in run["drifts"]]
        items = run["items"]["nodes"]
        assert len(await texts(page, "[data-table=items] tbody tr")) == len(items)
        assert int(await page.inner_text("[data-figure=open]")) == len(items)
        await shot(page, tmp_path, "money-en")
        assert await missing_keys(page) == []

        # The same file again, through the keyboard-usable file input: imported before, nothing new.
        await page.set_input_files("#money-file", files=[{"name": "wx-20261124.csv", "mimeType": "text/csv",
                                                          "buffer": statement}])  # fmt: skip
        await page.wait_for_selector("[data-upload-outcome]:has-text('imported before')")

        reversible = next(i for i in items if i["drift"] == "DUPLICATE_NOTIFICATION")
        await page.click(f"[data-reverse='{reversible['id']}']")
        await page.wait_for_selector("#confirm[open]")
        await page.fill("#confirm-reason", "the buyer was charged twice")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#status:has-text('Payment reversed.')")
        await page.wait_for_selector(f"[data-reverse='{reversible['id']}']", state="detached")
        after = (await api.gql(RUN, {"id": run_id}, headers=finance))["data"]["reconRun"]["items"]["nodes"]
        done = next(i for i in after if i["id"] == reversible["id"])
        assert (done["resolution"], done["note"]) == ("REVERSED", "the buyer was charged twice")
        assert int(await page.inner_text("[data-figure=open]")) == len(items) - 1

        focus = await tab_through(page, 60)
        reached = {f["tag"] for f in focus}
        assert {"input", "select", "button"} <= reached, focus
        assert all(f["visible"] == "true" for f in focus), focus

        zh = await browser.open(tokens["finance"], f"money?run={run_id}", "zh-CN")
        await zh.wait_for_selector("[data-table=items]")
        assert await zh.inner_text("[data-figure=match-rate]") == percent(run["matchRate"])
        assert await missing_keys(zh) == []
        await shot(zh, tmp_path, "money-zh-CN")

        # cs: no Money in the menu, no page when asked for it, no reverse control; and the API says no.
        cs = await browser.open(tokens["cs"], f"money?run={run_id}", "en")
        assert await cs.query_selector("#nav a[data-page=money]") is None
        assert await cs.query_selector("#page [data-page=money]") is None
        assert await cs.query_selector("[data-reverse]") is None
        assert await missing_keys(cs) == []
    other = next(i for i in items if i["voucherId"] and i["id"] != reversible["id"])
    refused = await api.gql(
        RESOLVE, {"input": {"itemId": other["id"], "resolution": "REVERSED", "note": "x"}}, headers=creds.cs
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None or refused["data"]["resolveReconItem"] is None
    listed = await api.gql("{ reconRuns(first: 5) { nodes { id } } }", headers=creds.cs)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    runs = (await api.gql("{ reconRuns(first: 5) { nodes { id } } }", headers=finance))["data"]["reconRuns"]["nodes"]
    assert [r["id"] for r in runs] == [run_id]
    voucher = await api.gql(REVERSE, {"input": {"voucherId": other["voucherId"], "reason": "x"}}, headers=creds.cs)
    assert voucher["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_buyers_matches_groups_heatmap(rt: Runtime, api: Api, creds: Credentials, chromium: str,
                                             tmp_path: Path) -> None:  # fmt: skip
    tokens = await staff_tokens(rt, ("cs", "finance"))
    cs = {"Authorization": f"Bearer {tokens['cs']}"}
    now = datetime.now(UTC).replace(microsecond=0)
    at = lambda minutes: (now - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    # A masked phone that matches a known buyer's pattern and region: a suggestion to decide.
    await submit(api, creds, "K-1", buyer={"phone": "13812345678", "receiverRegion": "310104"}, placedAt=at(40))
    masked = {"phone": "138****5678", "receiverRegion": "310104"}
    await submit(api, creds, "M-1", channel="DOUYIN", buyer=masked, placedAt=at(30))
    # One buyer tapping pay twice (grouped), another paying twice on two channels (paid duplicates).
    tapper = {"buyer": {"phone": "139-8765-4321"}, "attribution": {"utmSource": "taobao", "utmCampaign": "brand"}}
    first = await submit(api, creds, "P-1", **tapper, placedAt=at(20))
    await submit(api, creds, "P-2", **tapper, placedAt=at(19))
    await group_pending_orders({"runtime": rt}, int(first["id"].rsplit("/", 1)[1]))
    payer = {"buyer": {"phone": "137 0000 1111"}, "status": "PAID"}
    await submit(api, creds, "Q-1", **payer, placedAt=at(12), paidAt=at(12))
    await submit(api, creds, "Q-2", channel="DOUYIN", **payer, placedAt=at(10), paidAt=at(10))

    async with console(rt, chromium) as browser:
        page = await browser.open(tokens["cs"], "buyers", "en")
        await page.wait_for_selector("[data-table=heatmap]")
        end = datetime.fromtimestamp((int(now.timestamp()) // 3600 + 1) * 3600, UTC)
        heat = (await api.gql(HEATMAP, {"from": (end - timedelta(hours=24)).isoformat(), "to": end.isoformat()},
                              headers=cs))["data"]["duplicateHeatmap"]  # fmt: skip
        for name, key in (("orders", "orders"), ("duplicates", "duplicates"), ("merged", "mergedDuplicates"),
                          ("paid", "paidDuplicates")):  # fmt: skip
            assert await page.inner_text(f"[data-figure={name}]") == str(sum(c[key] for c in heat)), name
        assert (sum(c["mergedDuplicates"] for c in heat), sum(c["paidDuplicates"] for c in heat)) == (2, 1)
        await shot(page, tmp_path, "buyers-en")
        assert await missing_keys(page) == []

        await page.select_option("#heat-cut", "UTM_CAMPAIGN")
        await page.click("#heat-form button[type=submit]")
        await page.wait_for_selector("[data-table=heatmap] th:has-text('brand')")
        await loaded(page)

        [suggestion] = (await api.gql(SUGGESTIONS, headers=cs))["data"]["matchSuggestions"]["nodes"]
        await page.click(f"[data-decide='accept:{suggestion['id']}']")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#status:has-text('Match accepted.')")
        assert (await api.gql(SUGGESTIONS, headers=cs))["data"]["matchSuggestions"]["nodes"] == []

        [group] = (await api.gql(GROUPS, headers=cs))["data"]["orderGroups"]["nodes"]
        assert {c["channelOrderId"] for c in group["children"]} == {"P-1", "P-2"}
        await page.click(f"[data-split='{group['parentOrderId']}']")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#status:has-text('Group split.')")
        await page.wait_for_selector("[data-split]", state="detached")
        assert (await api.gql(GROUPS, headers=cs))["data"]["orderGroups"]["nodes"] == []

        focus = await tab_through(page, 60)
        assert {"select"} <= {f["tag"] for f in focus}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        zh = await browser.open(tokens["cs"], "buyers?per=DAY", "zh-CN")
        await zh.wait_for_selector("[data-table=heatmap]")
        merchant = ZoneInfo(rt.settings.merchant_timezone)
        first_day = (end - timedelta(days=6)).astimezone(merchant).date()
        week = {"from": datetime.combine(first_day, time(), merchant).isoformat(), "to": end.isoformat()}
        by_day = (await api.gql(HEATMAP_DAYS, week, headers=cs))["data"]["duplicateHeatmap"]
        assert await zh.inner_text("[data-figure=orders]") == str(sum(c["orders"] for c in by_day))
        assert await zh.inner_text("[data-figure=duplicates]") == str(sum(c["duplicates"] for c in by_day)) == "1"
        days = await texts(zh, "[data-table=heatmap] thead th[title]")
        local_days = {datetime.fromisoformat(c["hour"]).astimezone(merchant).date().isoformat() for c in by_day}
        assert days == sorted(local_days)
        assert await missing_keys(zh) == []
        await shot(zh, tmp_path, "buyers-zh-CN")

        # finance may not open Buyers: not in the menu, and asking for it opens finance's own page.
        finance = await browser.open(tokens["finance"], "buyers", "en")
        assert await finance.query_selector("#nav a[data-page=buyers]") is None
        assert await finance.query_selector("#page [data-page=buyers]") is None
