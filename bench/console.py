"""The operations console in a real browser at scale: how soon each page shows its data, and its main action.

PostgreSQL is loaded the way `bench.health` loads it (N orders of one day, their events, vouchers, statement lines,
exceptions), plus ship request, outbound and delivery times and tracking numbers so the Health page's lead times
have parcels and a caller's waybill finds its order, the seven daily health snapshots the hourly job would have
stored (the page's 7-day trend reads them), and what the other pages' actions work on (`bench.console_load`: a
reconciled statement with payments notified twice, masked-phone match suggestions, channel messages recorded just
now). The app runs in this process behind uvicorn; headless Chromium (playwright, the system's chromium) signs an
admin in and opens every page listed in console.js's PAGES.

Measured, per page: first meaningful paint, the time from navigation start to `body[data-loaded=true]` (the shell
sets it once the page's data is drawn), recorded inside the page so no polling delay counts; the median of
`--runs` fresh tabs after one warm-up. The Health page shares one computation of its metrics between the staff
opening it within `health_shared_seconds` (as deployed), so after the warm-up it reads that; it is measured
again on a second app of the same process that shares nothing (`pages_computing_alone`). Baseline, in the same
run and process: the console's static index.html under /console/assets, navigation start to its load event.
Actions (pages this bench knows, `bench.console_actions`), target < 300 ms each, timed inside the page from the
input that sends the request to the DOM showing the result: the Health page's drill-down (a click on each gauge
until its rows are shown); Find an order (a channel order number, then a tracking number, typed and Enter until
the order is shown); Exceptions (the queue filtered by kind, a case assigned, a case resolved with a reason); Money
(a payment notified twice reversed from the to-check list, with a reason and the confirmation); Buyers (a match
suggestion accepted, another rejected); Intake (a draft of cleaning rules checked, a replay's dry run); Settings
(a health threshold changed with a reason).
Verified: the Health page's five numerators and denominators equal the API's answer, each drill-down shows the
API's first page of rows, and every other action's result on the page is the API's answer afterwards.
Usage: python -m bench.console [--quick] [--orders N] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from api.app import create_app
from api.auth.tokens import issue_staff_token
from bench.console_actions import find, page_actions, timed
from bench.console_load import add_channel_messages, add_parcels, add_suggestions, add_to_check
from bench.health import load as load_orders
from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.access.service import create_staff
from domain.clock import utcnow
from domain.db import migrate_async
from domain.health.snapshots import compute_snapshots
from domain.health.windows import Period
from domain.settings import Settings
from runtime.process import build_runtime

CONSOLE_JS = Path(__file__).resolve().parent.parent / "api" / "console" / "static" / "console.js"
AT = "2026-11-24T08:00:00.000Z"  # inside the merchant day bench.health loads (Shanghai: 11-23 16:00 to 11-24 16:00 UTC)
TARGET_ACTION_MS = 300
CHANNEL_MESSAGES = 24  # more than the 20 latest accepted samples a cleaning-rule check reads
METRICS = ("STATUS_DRIFT", "CHANNEL_ATTRIBUTION", "VOUCHER_MATCH", "ID_CONSISTENCY", "EXCEPTION_CLOSURE")
LISTS = {"STATUS_DRIFT": "driftingOrders", "CHANNEL_ATTRIBUTION": "misattributed", "VOUCHER_MATCH": "unmatchedVouchers",
         "ID_CONSISTENCY": "idDisagreements", "EXCEPTION_CLOSURE": "lateExceptions"}  # fmt: skip
# Runs in every tab before the page's own scripts (CDP injects it, so the strict CSP does not apply): the moment,
# on the page's own clock from navigation start, that the shell marks the page drawn.
MARK_LOADED = """
new MutationObserver((changes, observer) => {
  if (document.body && document.body.dataset.loaded === "true" && window.__loadedAt === undefined) {
    window.__loadedAt = performance.now();
    observer.disconnect();
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-loaded"] });
"""


def pages() -> list[str]:
    """The page ids console.js lists, in menu order: whatever pages exist when the bench runs."""
    found = re.search(r"const PAGES = \[(.*?)\]", CONSOLE_JS.read_text(encoding="utf-8"), re.DOTALL)
    return re.findall(r'"([a-z-]+)"', found.group(1)) if found else []


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app in a real uvicorn server on a free localhost port; yields its http:// base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes only a flag)
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def open_tab(browser: Browser, token: str, url: str) -> Page:
    page = await browser.new_page(viewport={"width": 1360, "height": 900})
    await page.add_init_script(f"sessionStorage.setItem('orderhub.staffToken', {token!r});\n{MARK_LOADED}")
    await page.goto(url)
    return page


async def open_drawn(browser: Browser, token: str, url: str) -> Page:
    """A signed-in tab at `url`, once its page is drawn."""
    page = await open_tab(browser, token, url)
    await page.wait_for_selector("body[data-loaded=true]", timeout=120_000)
    return page


async def first_paint(browser: Browser, token: str, url: str) -> float:
    page = await open_tab(browser, token, url)
    try:
        await page.wait_for_selector("body[data-loaded=true]", timeout=120_000)
        errors = await page.evaluate("window.orderhubMissing || []")
        if errors:
            raise SystemExit(f"{url}: sentences missing from the catalog: {errors}")
        return float(await page.evaluate("window.__loadedAt"))
    finally:
        await page.close()


async def static_paint(browser: Browser, url: str) -> float:
    page = await browser.new_page(viewport={"width": 1360, "height": 900})
    try:
        await page.goto(url, wait_until="load")
        return float(await page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        await page.close()


PAGE_QUERIES = {
    "me": ("query { me { email roles language } }", {}),
    "health": ("query($input: HealthInput) { health(input: $input) { metrics { metric numerator denominator } } }",
               {"input": {"at": AT}}),
    "healthTrend": ("query($input: HealthTrendInput) { healthTrend(input: $input) { series { points { value } } } }",
                    {"input": {"period": "DAY", "count": 7, "end": AT}}),
    "fulfilmentLeadTimes": ("query($input: FulfilmentLeadTimesInput) { fulfilmentLeadTimes(input: $input) { "
                            "days { day toOutbound { count } } } }", {"input": {"to": AT}}),
}  # fmt: skip


async def api_times(base: str, token: str, runs: int) -> dict[str, float]:
    """Where the Health page's time goes: each of its GraphQL queries alone, median of `runs`, from Python."""
    timings: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, (query, variables) in PAGE_QUERIES.items():
            samples = []
            for _ in range(runs + 1):
                began = time.perf_counter()
                answer = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
                samples.append((time.perf_counter() - began) * 1000)
                if answer.get("errors"):
                    raise SystemExit(f"{name}: {answer['errors']}")
            timings[name] = statistics.median(samples[1:])
    return timings


async def verify_health(page: Page, base: str, token: str) -> None:
    """The gauges carry the API's numbers, or the timings mean nothing."""
    query = "query($input: HealthInput) { health(input: $input) { metrics { metric numerator denominator } } }"
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        answer = (await client.post("/graphql", json={"query": query, "variables": {"input": {"at": AT}}},
                                    headers={"Authorization": f"Bearer {token}"})).json()  # fmt: skip
    want = {m["metric"]: [str(m["numerator"]), str(m["denominator"])] for m in answer["data"]["health"]["metrics"]}
    shown = await page.eval_on_selector_all(
        ".gauge", "cs => cs.map(c => [c.dataset.metric, c.dataset.numerator, c.dataset.denominator])"
    )
    got = {metric: [numerator, denominator] for metric, numerator, denominator in shown}
    if got != want or len(got) != len(METRICS):
        raise SystemExit(f"the Health page shows {got}, the API answers {want}")


async def drilldowns(page: Page, base: str, token: str) -> dict[str, float]:
    """Each gauge clicked in turn, until its rows (or its "nothing behind this metric" row) are shown."""
    timings: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for metric in METRICS:
            shown = find(f'#drilldown-body[data-metric="{metric}"] table.drill-rows tbody tr')
            gauge = f'.gauge[data-metric="{metric}"]'
            timings[f"health.drilldown.{metric}"] = await timed(page, shown, lambda gauge=gauge: page.click(gauge))
            query = f"""query($input: HealthDrilldownInput) {{ healthDrilldown(input: $input) {{
                {LISTS[metric]}(first: 10) {{ nodes {{ __typename }} }} }} }}"""
            answer = (await client.post("/graphql", json={"query": query, "variables": {"input": {"at": AT}}},
                                        headers={"Authorization": f"Bearer {token}"})).json()  # fmt: skip
            want = len(answer["data"]["healthDrilldown"][LISTS[metric]]["nodes"])
            rows = len(await page.query_selector_all("#drilldown-body table.drill-rows tbody tr:not(.empty-row)"))
            if rows != want:
                raise SystemExit(f"{metric}: the page shows {rows} rows, the API's first page has {want}")
    return timings


async def run(n: int, runs: int, admin_url: str, chromium: str) -> dict[str, Any]:
    async with temporary_database(admin_url, "orderhub_bench_console") as url:
        await migrate_async(sqlalchemy_url(url))
        started = time.perf_counter()
        await load_orders(url, n)
        await add_parcels(url)
        await add_to_check(url, n, runs + 1)  # one payment reversed per round, the warm-up's included
        await add_suggestions(url, n, 2 * (runs + 1))  # one accepted and one rejected per round
        print(f"loaded {n} orders in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="orderhub-bench-console-") as data:
            settings = Settings(data_dir=Path(data), database_url=sqlalchemy_url(url),
                                redis_url=os.environ.get("ORDERHUB_BENCH_REDIS_URL"))  # fmt: skip
            rt = await build_runtime(settings, migrate=False)
            try:
                # What the hourly health job leaves behind: each past day's snapshot, read by the 7-day trend.
                at, zone = datetime.fromisoformat(AT), ZoneInfo(settings.merchant_timezone)
                async with rt.core.sessions() as session, session.begin():
                    for days_before in range(7):
                        await compute_snapshots(session, Period.DAY, at - timedelta(days=days_before), utcnow(), zone)
                async with rt.core.sessions() as session, session.begin():
                    admin = await create_staff(session, "bench-console@shop.example", "bench password 1", ["admin"])
                assert admin.id is not None
                token = issue_staff_token(settings.secret("token_secret"), admin.id, admin.email, admin.roles, 60).token
                unshared = create_app(settings=settings.model_copy(update={"health_shared_seconds": 0}), runtime=rt)
                async with (
                    serving(create_app(runtime=rt)) as base,
                    serving(unshared) as computing,
                    async_playwright() as playwright,
                ):
                    await add_channel_messages(rt, base, CHANNEL_MESSAGES)
                    browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
                    try:
                        return await measure(browser, base, computing, token, admin.email, n, runs)
                    finally:
                        await browser.close()
            finally:
                await rt.close()


async def measure(
    browser: Browser, base: str, computing: str, token: str, me: str, n: int, runs: int
) -> dict[str, Any]:
    """`base` serves the console as deployed; `computing` the same with nothing shared between requests, so each
    Health page computes its metrics itself (what the first member of staff to open it waits for)."""
    static_url = f"{base}/console/assets/index.html"
    await static_paint(browser, static_url)
    static_ms = statistics.median([await static_paint(browser, static_url) for _ in range(runs)])
    paints: dict[str, float] = {}
    for page_id in pages():
        url = f"{base}/console?lang=zh-CN#/{page_id}" + (f"?at={AT}" if page_id == "health" else "")
        await first_paint(browser, token, url)  # warm-up: stored snapshots, caches, the module's first load
        paints[page_id] = statistics.median([await first_paint(browser, token, url) for _ in range(runs)])
        print(f"{page_id:<12} first paint {paints[page_id]:8.1f} ms", file=sys.stderr)
    unshared: dict[str, float] = {}
    if "health" in paints:
        url = f"{computing}/console?lang=zh-CN#/health?at={AT}"
        await first_paint(browser, token, url)
        unshared["health"] = statistics.median([await first_paint(browser, token, url) for _ in range(runs)])
        print(f"{'health':<12} first paint {unshared['health']:8.1f} ms, computed for itself", file=sys.stderr)
    actions: dict[str, float] = {}
    if "health" in paints:
        page = await open_tab(browser, token, f"{base}/console?lang=zh-CN#/health?at={AT}")
        try:
            await page.wait_for_selector("body[data-loaded=true]", timeout=120_000)
            await verify_health(page, base, token)
            await drilldowns(page, base, token)  # warm-up
            rounds = [await drilldowns(page, base, token) for _ in range(runs)]
            actions = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
        finally:
            await page.close()
    api = await api_times(base, token, runs) if "health" in paints else {}

    async def tab(path: str) -> Page:
        return await open_drawn(browser, token, f"{base}/console?lang=zh-CN#/{path}")

    actions |= await page_actions(tab, base, token, me, n, runs, list(paints))
    for name, ms in {**actions, **{f"api.{k}": v for k, v in api.items()}}.items():
        print(f"{name:<34} {ms:8.1f} ms", file=sys.stderr)
    print(f"static page (baseline) {static_ms:8.1f} ms", file=sys.stderr)
    return {
        "bench": "console",
        "orders": n,
        "pages": {k: round(v, 1) for k, v in paints.items()},
        "static_ms": round(static_ms, 1),
        "worst_paint_ms": round(max(paints.values(), default=0.0), 1),
        "pages_computing_alone": {k: round(v, 1) for k, v in unshared.items()},
        "actions": {k: round(v, 1) for k, v in actions.items()},
        "worst_action_ms": round(max(actions.values(), default=0.0), 1),
        "action_target_ms": TARGET_ACTION_MS,
        "health_api_ms": {k: round(v, 1) for k, v in api.items()},
        "verified": True,  # every page's result equals the API's answer (else exit above)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 orders instead of 1,000,000")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3, help="measured loads and actions per page (after one warm-up)")
    parser.add_argument("--admin-url", default=os.environ.get("ORDERHUB_BENCH_PG_ADMIN", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("the system chromium is needed (make browser)")
    n = args.orders or (20_000 if args.quick else 1_000_000)
    print(json.dumps(asyncio.run(run(n, args.runs, args.admin_url, chromium))))


if __name__ == "__main__":
    main()
