"""Each console page's main action, done in Chromium the way staff do it and timed inside the page.

The clock starts at the trusted input event that sends the request (the click on a button, the Enter in the search
box, the click on the confirmation dialog's OK: the time a person spends reading the dialog is theirs, not the
console's) and stops when the page's DOM holds the result, both on the page's own clock, so neither playwright's
round trips nor its polling count. A page that shows an error instead stops the bench. After each action the page's
result is compared with the API's answer, so a timing never counts a wrong answer.

Every action runs once to warm up, then `runs` times on fresh rows (another order, the next exception, the next
to-check item); the median of those is reported as `<page>.<action>`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from playwright.async_api import Page

from bench.console_load import INTAKE_CHANNEL, tracking_number
from domain.clock import utcnow
from domain.i18n.catalogs import catalog

OpenTab = Callable[[str], Awaitable[Page]]
Round = Callable[[int], Awaitable[dict[str, float]]]

ACTION_TIMEOUT_S = 120
# The page's section and its drawn flag: the router replaces the first and sets the second once the page is drawn.
PAGE_SECTION = "#page > [data-page]"
REDRAWN = f'document.body.dataset.loaded === "true" && document.querySelector("{PAGE_SECTION}") !== prior'
# Armed before the input: resolves window.__action with the milliseconds from the first trusted `event` to the
# first DOM change after which SHOWN holds (or with the error the page shows instead). `prior` is the element
# `old` selected when armed, for "a new one is drawn".
ARM = """([event, old]) => {
  const prior = old ? document.querySelector(old) : null;
  const error = document.getElementById("error");
  window.__action = new Promise((resolve) => {
    let began = null;
    let observer = null;
    const started = (e) => { if (e.isTrusted && began === null) began = e.timeStamp; };
    const finish = (result) => {
      observer.disconnect();
      document.removeEventListener(event, started, true);
      resolve(result);
    };
    const look = () => {
      if (began === null) return;
      if (error && !error.hidden && error.textContent) finish({ error: error.textContent });
      else if (SHOWN) finish({ ms: performance.now() - began });
    };
    observer = new MutationObserver(look);
    document.addEventListener(event, started, true);
    observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}"""
GO = """(hash) => new Promise((resolve) => {
  if (location.hash === hash) {
    resolve();
    return;
  }
  const prior = document.querySelector("PAGE_SECTION");
  const observer = new MutationObserver(() => {
    if (REDRAWN) { observer.disconnect(); resolve(); }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
  location.hash = hash;
})""".replace("REDRAWN", REDRAWN).replace("PAGE_SECTION", PAGE_SECTION)


def js(value: Any) -> str:
    """A Python value as a JavaScript literal inside a predicate."""
    return json.dumps(value)


def find(selector: str) -> str:
    """The predicate's expression for the first element `selector` matches (null when none does)."""
    return f"document.querySelector({js(selector)})"


async def timed(page: Page, shown: str, act: Callable[[], Awaitable[None]], *, event: str = "click",
                old: str | None = None) -> float:  # fmt: skip
    """Milliseconds from the input `act` makes to the page showing `shown` (a JavaScript expression)."""
    if await page.is_visible("#error"):
        raise SystemExit(f"the page shows an error before the action: {await page.inner_text('#error')}")
    await page.evaluate(ARM.replace("SHOWN", shown), [event, old])
    await act()
    try:
        async with asyncio.timeout(ACTION_TIMEOUT_S):
            result: dict[str, Any] = await page.evaluate("window.__action")
    except TimeoutError:
        raise SystemExit(f"{page.url}: the page never showed {shown}") from None
    if "error" in result:
        raise SystemExit(f"{page.url}: the page answered with an error: {result['error']}")
    return float(result["ms"])


async def go(page: Page, hash_: str) -> None:
    """Opens another address of the console in the same tab, untimed, until its page is drawn."""
    await page.evaluate(GO, hash_)


async def confirm(page: Page, reason: str | None = None) -> Callable[[], Awaitable[None]]:
    """Waits for the confirmation dialog, writes the reason it asks for; returns the click on its OK."""
    await page.wait_for_selector("#confirm[open]")
    if reason is not None:
        await page.fill("#confirm-reason", reason)
    return lambda: page.click("#confirm-ok")


def wrong(what: str, shown: Any, want: Any) -> SystemExit:
    return SystemExit(f"{what}: the page shows {shown!r}, the API answers {want!r}")


class Api:
    """The API as the signed-in admin sees it, to check each page's result against."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = (await self.client.post("/graphql", json={"query": query, "variables": variables or {}})).json()
        if answer.get("errors"):
            raise SystemExit(f"the API refused {query[:60]!r}: {answer['errors']}")
        data: dict[str, Any] = answer["data"]
        return data


def single(name: str, action: Callable[[], Awaitable[float]]) -> Round:
    async def one(_: int) -> dict[str, float]:
        return {name: await action()}

    return one


async def rounds(runs: int, one: Round) -> dict[str, float]:
    """One warm-up round, then the median of `runs` measured ones, per action."""
    await one(0)
    measured = [await one(r) for r in range(1, runs + 1)]
    return {name: statistics.median(m[name] for m in measured) for name in measured[0]}


# Find an order: the search box, given what a caller quotes.

SEARCH = "query($q: String!) { orders(first: 20, filter: {search: $q}) { nodes { id channelOrderId trackingNumber } } }"
# The order drawn, or the list of orders found when the text names several (which the check then refuses).
ORDER_SHOWN = f"""(document.querySelector("section.order") || document.querySelector('[data-field="found"]'))
  && document.querySelector("{PAGE_SECTION}") !== prior"""


async def search(page: Page, api: Api, text: str) -> float:
    """Types `text` in the search box and presses Enter, until the one order it names is shown."""
    await page.fill("#order-search", text)
    ms = await timed(page, ORDER_SHOWN, lambda: page.press("#order-search", "Enter"), event="keydown",
                     old=PAGE_SECTION)  # fmt: skip
    found = (await api.gql(SEARCH, {"q": text}))["orders"]["nodes"]
    section = await page.query_selector("section.order")
    shown = await section.get_attribute("data-order") if section else None
    if len(found) != 1 or shown != found[0]["id"]:
        raise wrong(f"search {text!r}", shown, found)
    want = found[0]
    number = await page.inner_text('[data-field="channelOrderId"]')
    tracking = await page.inner_text('[data-field="trackingNumber"]')
    if number != want["channelOrderId"] or not tracking.startswith(want["trackingNumber"] or "—"):
        raise wrong(f"search {text!r}", (number, tracking), want)
    return ms


async def orders_actions(open_tab: OpenTab, api: Api, n: int, runs: int) -> dict[str, float]:
    page = await open_tab("orders")
    try:

        async def one(r: int) -> dict[str, float]:
            delivered, shipped = n // 2 + 100 * r + 90, n // 2 + 100 * r + 65
            return {
                "orders.channel_order": await search(page, api, f"B{delivered}"),
                "orders.tracking": await search(page, api, tracking_number(shipped)),
            }

        return await rounds(runs, one)
    finally:
        await page.close()


# Exceptions: the queue filtered by kind, a case assigned, a case resolved with a reason.

QUEUE = """query($filter: OrderExceptionFilter) { orderExceptions(first: 50, filter: $filter) { nodes { id } } }"""
CASE = """query($id: ID!) { node(id: $id) { ... on OrderException { state assignedTo resolution } } }"""
KIND = "STUCK_AFTER_SHIP_REQUEST"


async def queue_ids(page: Page) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all("select.assignee", "s => s.map(e => e.dataset.exception)")
    return ids


async def filter_kind(page: Page, api: Api) -> float:
    await go(page, "#/exceptions")
    await page.select_option("#filter-kind", KIND)
    ms = await timed(page, REDRAWN, lambda: page.click(".filters button[type=submit]"), old=PAGE_SECTION)
    want = [c["id"] for c in (await api.gql(QUEUE, {"filter": {"states": ["OPEN"], "kinds": [KIND]}}))
            ["orderExceptions"]["nodes"]]  # fmt: skip
    if await queue_ids(page) != want or not want:
        raise wrong(f"the open {KIND} exceptions", await queue_ids(page), want)
    return ms


async def assign(page: Page, api: Api, me: str) -> float:
    case: str | None = await page.evaluate(
        """() => { const s = [...document.querySelectorAll("[data-assigned]")].find((e) => e.textContent === "—");
                   return s ? s.dataset.assigned : null; }"""
    )
    if case is None:
        raise SystemExit("no unassigned exception left on the first page")
    await page.select_option(f"select[data-exception={js(case)}]", f"staff:{me}")
    shown = f"({find(f'[data-assigned={js(case)}]')} || {{}}).textContent?.includes({js(me)})"
    ms = await timed(page, shown, lambda: page.click(f"tr:has(select[data-exception={js(case)}]) button.assign"))
    got = (await api.gql(CASE, {"id": case}))["node"]
    if got["assignedTo"] != f"staff:{me}":
        raise wrong(f"exception {case}'s assignee", me, got)
    return ms


async def resolve(page: Page, api: Api) -> float:
    [case, *_] = await queue_ids(page)
    reason = "bench: the carrier took the parcel back"
    await page.click(f"tr:has(select[data-exception={js(case)}]) button.resolve")
    ok = await confirm(page, reason)
    shown = f"!{find(f'[data-exception={js(case)}]')}"
    ms = await timed(page, shown, ok)
    got = (await api.gql(CASE, {"id": case}))["node"]
    if (got["state"], got["resolution"]) != ("RESOLVED", reason):
        raise wrong(f"exception {case} resolved", reason, got)
    want = [c["id"] for c in (await api.gql(QUEUE, {"filter": {"states": ["OPEN"]}}))["orderExceptions"]["nodes"]]
    if await queue_ids(page) != want:
        raise wrong("the open exceptions after a resolution", await queue_ids(page), want)
    return ms


async def exceptions_actions(open_tab: OpenTab, api: Api, me: str, runs: int) -> dict[str, float]:
    page = await open_tab("exceptions")
    try:

        async def one(_: int) -> dict[str, float]:
            filtered = await filter_kind(page, api)
            await go(page, "#/exceptions?state=OPEN")
            return {"exceptions.filter_kind": filtered, "exceptions.assign": await assign(page, api, me),
                    "exceptions.resolve": await resolve(page, api)}  # fmt: skip

        return await rounds(runs, one)
    finally:
        await page.close()


# Money: a payment notified twice, reversed from the to-check list with a reason.

RUN = """query($id: ID!) { reconRun(id: $id) { items(first: 100) { nodes { id resolution note } } } }"""


async def reverse(page: Page, api: Api) -> float:
    item = await page.get_attribute("[data-reverse]", "data-reverse")
    run = await page.get_attribute("[data-run]", "data-run")
    if item is None or run is None:
        raise SystemExit("no payment left to reverse on the to-check list")
    reason = "bench: the buyer was charged twice"
    await page.click(f"[data-reverse={js(item)}]")
    ok = await confirm(page, reason)
    shown = f"!{find(f'[data-reverse={js(item)}]')} && !!{find('[data-figure=open]')}"
    ms = await timed(page, shown, ok)
    items = (await api.gql(RUN, {"id": run}))["reconRun"]["items"]["nodes"]
    done = next(i for i in items if i["id"] == item)
    if (done["resolution"], done["note"]) != ("REVERSED", reason):
        raise wrong(f"item {item} reversed", reason, done)
    left = sum(1 for i in items if i["resolution"] is None)
    if await page.inner_text("[data-figure=open]") != str(left):
        raise wrong("items still to check", await page.inner_text("[data-figure=open]"), left)
    return ms


async def money_actions(open_tab: OpenTab, api: Api, runs: int) -> dict[str, float]:
    page = await open_tab("money")
    try:
        return await rounds(runs, single("money.reverse", lambda: reverse(page, api)))
    finally:
        await page.close()


# Buyers: a masked-phone match suggestion accepted, another rejected.

SUGGESTIONS = "query { matchSuggestions(first: 50) { nodes { id candidateUid order { id } } } }"
BUYER = "query($id: ID!) { order(id: $id) { buyerUid } }"


async def decide(page: Page, api: Api, accept: bool) -> float:
    verb = "accept" if accept else "reject"
    control = await page.get_attribute(f'[data-decide^="{verb}:"]', "data-decide")
    if control is None:
        raise SystemExit("no match suggestion left to decide")
    suggestion = control.split(":", 1)[1]
    [before] = [s for s in (await api.gql(SUGGESTIONS))["matchSuggestions"]["nodes"] if s["id"] == suggestion]
    await page.click(f"[data-decide={js(control)}]")
    ok = await confirm(page)
    ms = await timed(page, f"!{find(f'[data-decide={js(control)}]')}", ok)
    left = [s["id"] for s in (await api.gql(SUGGESTIONS))["matchSuggestions"]["nodes"]]
    shown = await page.eval_on_selector_all('[data-decide^="accept:"]', "bs => bs.map(b => b.dataset.decide.slice(7))")
    if suggestion in left or shown != left:
        raise wrong(f"the suggestions left after {verb}ing {suggestion}", shown, left)
    buyer = (await api.gql(BUYER, {"id": before["order"]["id"]}))["order"]["buyerUid"]
    if buyer != (before["candidateUid"] if accept else None):
        raise SystemExit(f"after {verb}ing {suggestion} the order's buyer is {buyer!r}")
    return ms


async def buyers_actions(open_tab: OpenTab, api: Api, runs: int) -> dict[str, float]:
    page = await open_tab("buyers")
    try:

        async def one(_: int) -> dict[str, float]:
            return {"buyers.accept": await decide(page, api, True), "buyers.reject": await decide(page, api, False)}

        return await rounds(runs, one)
    finally:
        await page.close()


# Intake: a draft of cleaning rules checked against the accepted samples; a replay's dry run over the last 24 h.

RULES = [{"op": "drop_if_equals", "path": "data.shop_order_detail.bench_flag", "value": "ERR"}]
CHECK = """mutation($input: SaveCleaningRulesInput!) { checkCleaningRules(input: $input) {
  wouldBeVersion userErrors { field message code } } }"""
PASSED = "The rules pass every accepted sample; saved, they would be version {version}."
REPLAY = """mutation($input: ReplayInput!) { replayChannelMessages(input: $input) {
  messages { diff } userErrors { field message code } } }"""


async def check_rules(page: Page, api: Api) -> float:
    await page.fill("#rules-editor", json.dumps(RULES))
    shown = f"!!{find('#status')}.textContent || !{find('#rules-errors')}.hidden"
    ms = await timed(page, shown, lambda: page.click("#rules-check"))
    answer = await api.gql(CHECK, {"input": {"channel": INTAKE_CHANNEL, "rules": RULES, "note": ""}})
    checked = answer["checkCleaningRules"]
    want = catalog("zh-CN")[PASSED].replace("{version}", str(checked["wouldBeVersion"]))
    if checked["userErrors"] or await page.inner_text("#status") != want:
        raise wrong("the rules' check", await page.inner_text("#status"), checked)
    return ms


async def replay_dry_run(page: Page, api: Api) -> float:
    shown = f"!!{find('#replay-result')} && {find('#replay-result')} !== prior"
    ms = await timed(page, shown, lambda: page.click("#replay-dry"), old="#replay-result")
    now = utcnow()
    window = {"receivedFrom": (now - timedelta(hours=24)).isoformat(), "receivedTo": now.isoformat()}
    answer = await api.gql(REPLAY, {"input": {"channel": INTAKE_CHANNEL, **window, "apply": False}})
    messages = answer["replayChannelMessages"]["messages"]
    want = [str(len(messages)), str(sum(1 for m in messages if m["diff"]))]
    shown_figures = [await page.inner_text("#replay-messages"), await page.inner_text("#replay-changed")]
    if shown_figures != want or not messages:
        raise wrong("the replay's dry run (messages, would change)", shown_figures, want)
    return ms


async def intake_actions(open_tab: OpenTab, api: Api, runs: int) -> dict[str, float]:
    page = await open_tab("intake")
    try:

        async def one(_: int) -> dict[str, float]:
            return {"intake.check_rules": await check_rules(page, api),
                    "intake.replay_dry_run": await replay_dry_run(page, api)}  # fmt: skip

        return await rounds(runs, one)
    finally:
        await page.close()


# Settings: a health threshold changed with a reason.

THRESHOLDS = "query { healthThresholds { metric value } }"
METRIC = "VOUCHER_MATCH"


async def threshold(page: Page, api: Api, r: int) -> float:
    value = f"{99.5 - 0.01 * r:.2f}"
    await page.fill(f"#threshold-{METRIC}", value)
    await page.click(f"td:has(#threshold-{METRIC}) button")
    ok = await confirm(page, "bench: statements arrive late this month")
    shown = f"({find(f'[data-metric={METRIC}]')} || {{}}).textContent === {js(value + '%')}"
    ms = await timed(page, shown, ok)
    got = next(h["value"] for h in (await api.gql(THRESHOLDS))["healthThresholds"] if h["metric"] == METRIC)
    if abs(got * 100 - float(value)) > 1e-9:
        raise wrong(f"the {METRIC} threshold", value, got)
    return ms


async def settings_actions(open_tab: OpenTab, api: Api, runs: int) -> dict[str, float]:
    page = await open_tab("settings")
    try:

        async def one(r: int) -> dict[str, float]:
            return {"settings.threshold": await threshold(page, api, r)}

        return await rounds(runs, one)
    finally:
        await page.close()


async def page_actions(
    open_tab: OpenTab, base: str, token: str, me: str, n: int, runs: int, pages: list[str]
) -> dict[str, float]:
    """The main action of each page in `pages` this bench knows (Health's drill-downs are timed apart)."""
    async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        api = Api(client)
        known: dict[str, Callable[[], Awaitable[dict[str, float]]]] = {
            "orders": lambda: orders_actions(open_tab, api, n, runs),
            "exceptions": lambda: exceptions_actions(open_tab, api, me, runs),
            "money": lambda: money_actions(open_tab, api, runs),
            "buyers": lambda: buyers_actions(open_tab, api, runs),
            "intake": lambda: intake_actions(open_tab, api, runs),
            "settings": lambda: settings_actions(open_tab, api, runs),
        }
        actions: dict[str, float] = {}
        for page_id in pages:
            if page_id in known:
                actions |= await known[page_id]()
        return actions
