"""`orderhub demo`: a simulated day of multi-channel traffic through the real HTTP API, a real
worker and the embedded storage, then a report of what orderhub found."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func
from sqlmodel import col, select
from websockets.asyncio.client import connect

from api.app import create_app
from api.auth.tokens import issue_customer_token
from cli.demo.edges import edges_demo
from cli.demo.fulfilment import fulfilment_demo
from cli.demo.gaps import gaps_demo
from cli.demo.health import health_demo
from cli.demo.prediction import prediction_demo
from cli.demo.upstreams import upstreams_demo
from domain.access.service import create_staff, issue_partner_key
from domain.clock import day_start_of, local, local_day, utcnow
from domain.identity.models import MatchSuggestion, OrderGroup
from domain.identity.queries import duplicate_heatmap
from domain.intake.models import InboundMessage
from domain.orders.models import Order, OrderEvent
from domain.orders.status import EventType
from domain.settings import Settings
from runtime.process import Runtime, build_runtime
from sim.day import SimDay, SimOrder, generate_day
from sim.health import plan_attribution
from sim.identity import generate_identity_traffic
from workers.settings import run_queued_jobs

SUBMIT = """mutation($input: SubmitOrdersInput!) {
  submitOrders(input: $input) { orders { id } userErrors { field message code } } }"""
SINGLE = """mutation($input: OrderInput!) { submitOrder(input: $input) { order { id } userErrors { field code } } }"""
BATCH = 100
CONCURRENCY = 4


@dataclass
class Report:
    requests: int = 0
    seconds: float = 0.0
    refusals: list[str] = field(default_factory=list)


def _free_port(preferred: int) -> int:
    """The preferred port if it is free, else any free one (0 asks for any)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _batches(day: SimDay) -> list[list[dict[str, Any]]]:
    """The bridge pushes events in time order; an order appears at most once per batch, and a later
    event of an order goes into a later batch than its earlier one. Orders carry their attribution."""
    attribution, _ = plan_attribution(day)
    batches: list[list[dict[str, Any]]] = []
    last_batch: dict[str, int] = {}
    open_batch = 0
    for _, kind, order in day.events():
        target = max(open_batch, last_batch.get(order.channel_order_id, -1) + 1)
        while len(batches) <= target:
            batches.append([])
        body = order.as_input("PENDING_PAYMENT" if kind == "placed" else None)
        batches[target].append({**body, "attribution": attribution[order.channel_order_id]})
        last_batch[order.channel_order_id] = target
        while open_batch < len(batches) and len(batches[open_batch]) >= BATCH:
            open_batch += 1
    return batches


async def _push_day(client: httpx.AsyncClient, key: str, day: SimDay, report: Report) -> None:
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batch in _batches(day):
        queue.put_nowait(batch)

    async def bridge() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            body = {"query": SUBMIT, "variables": {"input": {"orders": batch}}}
            response = await client.post("/graphql", json=body, headers={"X-Api-Key": key})
            errors = response.json()["data"]["submitOrders"]["userErrors"]
            if errors:
                raise RuntimeError(f"the simulated day was refused: {errors[:3]}")
            report.requests += 1

    started = time.perf_counter()
    await asyncio.gather(*(bridge() for _ in range(CONCURRENCY)))
    report.seconds = time.perf_counter() - started


async def _push_faults(client: httpx.AsyncClient, key: str, weak_key: str, sample: SimOrder, report: Report) -> None:
    """What partners really send on a bad day: each is refused with a reason and still recorded."""
    headers = {"X-Api-Key": key, "content-type": "application/json"}
    bad = [
        ("truncated JSON", b'{"query": "mutation { submitOrder(input: {', headers),
        ("unknown channel", _single(sample, channel="PINDUODUO"), headers),
        ("negative amount", _single(sample, shippingAmount="-8.00"), headers),
        ("currency written as RMB", _single(sample, currencyCode="RMB"), headers),
        ("warehouse key submitting orders", _single(sample), {**headers, "X-Api-Key": weak_key}),
    ]
    for label, body, request_headers in bad:
        response = await client.post("/graphql", content=body, headers=request_headers)
        text = response.text
        code = re.search(r'"code":\s*"([A-Z_]+)"', text)
        report.refusals.append(f"{label:<34} -> HTTP {response.status_code} {code.group(1) if code else text[:40]}")


def _single(order: SimOrder, **overrides: Any) -> bytes:
    payload = {**order.as_input(), **overrides, "channelOrderId": "FAULT-" + secrets.token_hex(4)}
    return json.dumps({"query": SINGLE, "variables": {"input": payload}}).encode()


async def _counts(runtime: Runtime) -> dict[str, Any]:
    async with runtime.core.sessions() as session:
        by_channel = dict((await session.exec(select(Order.channel, func.count()).group_by(Order.channel))).all())
        by_status = dict((await session.exec(select(Order.status, func.count()).group_by(Order.status))).all())
        outcomes = dict(
            (await session.exec(select(InboundMessage.outcome, func.count()).group_by(InboundMessage.outcome))).all()
        )
        overdue = (
            await session.exec(select(func.count()).where(col(OrderEvent.type) == EventType.PAYMENT_OVERDUE))
        ).one()
        buyers = (await session.exec(select(func.count(func.distinct(Order.buyer_uid))))).one()
        busiest = (
            await session.exec(
                select(Order.buyer_uid, func.count())
                .where(col(Order.buyer_uid).is_not(None))
                .group_by(Order.buyer_uid)
                .order_by(func.count().desc())
                .limit(1)
            )
        ).first()
    return {
        "channels": by_channel,
        "statuses": by_status,
        "outcomes": outcomes,
        "overdue": overdue,
        "buyers": buyers,
        "busiest": busiest,
    }


def _phones_in_database(runtime: Runtime, day: SimDay) -> int:
    path = runtime.settings.resolved_database_url().split("///", 1)[-1]
    raw = b""
    with contextlib.suppress(OSError):
        for suffix in ("", "-wal"):
            with open(path + suffix, "rb") as handle:
                raw += handle.read()
    digits = {re.sub(r"\D", "", o.buyer_phone)[-11:] for o in day.orders}
    return sum(1 for d in digits if d.encode() in raw)


async def run_demo(settings: Settings, *, orders: int, seed: int, port: int, serve: bool) -> int:
    if settings.database_url is None:
        demo_db = settings.data_dir.resolve() / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            demo_db.with_name(demo_db.name + suffix).unlink(missing_ok=True)
        settings = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{demo_db}"})
    settings = settings.model_copy(update={"graphiql": True})  # the demo is for exploring the API
    if "log_level" not in settings.model_fields_set:  # the report is the output; failures still show
        logging.getLogger().setLevel(logging.WARNING)
    runtime = await build_runtime(settings)
    port = _free_port(port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_config=None, log_level=None)
    )
    server_task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn exposes only a flag)
            await asyncio.sleep(0.05)
        return await _demo(runtime, port, orders, seed, serve)
    finally:
        server.should_exit = True
        await server_task
        await runtime.close()


async def _demo(runtime: Runtime, port: int, orders: int, seed: int, serve: bool) -> int:
    password = secrets.token_urlsafe(12)
    async with runtime.core.sessions() as session, session.begin():
        bridge = await issue_partner_key(session, "channel-bridge", ["orders:write", "orders:read"])
        wms = await issue_partner_key(session, "wms-shanghai", ["wms:write"])
        staff_email = f"admin+{secrets.token_hex(3)}@demo.orderhub"
        await create_staff(session, staff_email, password, ["admin"])
    yesterday = local_day(utcnow(), runtime.settings.merchant_zone) - timedelta(days=1)
    day = generate_day(seed, yesterday, orders, runtime.settings.merchant_timezone)
    report = Report()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        print(
            f"orderhub demo: pushing {orders} simulated orders from {len(set(o.channel for o in day.orders))} channels"
        )
        await _push_day(client, bridge.key, day, report)
        await _push_faults(client, bridge.key, wms.key, day.orders[0], report)
    await runtime.relay.drained()
    await run_queued_jobs(runtime)
    counts = await _counts(runtime)
    truth = day.counts()
    _print_report(runtime, day, report, counts, truth)
    await _live_push(runtime, port, bridge.key, day)
    await fulfilment_demo(runtime, port, day)
    await prediction_demo(runtime, port, seed)
    await _channel_intake_demo(port, bridge.key, staff_email, password, seed)
    await _money_demo(runtime, port, day, seed)
    await gaps_demo(runtime, runtime.settings.data_dir.resolve() / "money")
    await edges_demo(runtime, port)
    await health_demo(runtime, port, day)
    await _identity_section(runtime, base, bridge.key, seed, day.day)
    await _signin_demo(runtime, base, day)
    await upstreams_demo(runtime, port, bridge.key, seed, day.day)  # after identity: its group is not one of those
    _print_try_it(runtime, counts, port, bridge.key, f"{staff_email} / {password}")
    if serve:
        print("\nserving; press Ctrl-C to stop")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0


def _print_report(
    runtime: Runtime,
    day: SimDay,
    report: Report,
    counts: dict[str, Any],
    truth: dict[str, int],
) -> None:
    events = sum(len(batch) for batch in _batches(day))
    print(f"\n== ingest: {events} channel events in {report.requests} GraphQL requests, {report.seconds:.1f} s")
    print(f"   {events / max(report.seconds, 1e-9):.0f} events/s through HTTP + GraphQL + SQLite")
    print("\n== orders by channel (orderhub / simulator)")
    for key, expected in truth.items():
        if key.startswith("channel:"):
            name = key.split(":", 1)[1]
            print(f"   {name:<16} {counts['channels'].get(name, 0):>6} / {expected}")
    print("\n== orders by status (orderhub / simulator)")
    for key, expected in truth.items():
        if key.startswith("status:"):
            name = key.split(":", 1)[1]
            print(f"   {name:<16} {counts['statuses'].get(name, 0):>6} / {expected}")
    print(f"\n== worker: {counts['overdue']} unpaid orders flagged past their payment deadline")
    kept = sum(counts["outcomes"].values())
    print(f"\n== traffic mirror: {kept} inbound messages kept, by outcome {counts['outcomes']}")
    for line in report.refusals:
        print(f"   refused: {line}")
    raw_buyers = len({(o.channel, o.platform_buyer_id) for o in day.orders})
    print(f"\n== buyers: {raw_buyers} channel accounts -> {counts['buyers']} buyer UIDs")
    leaks = _phones_in_database(runtime, day)
    if runtime.settings.resolved_database_url().startswith("sqlite"):
        print(f"   plaintext phone numbers found in the database file: {leaks}")
    if counts["busiest"] is not None:
        print(f"   busiest buyer has {counts['busiest'][1]} orders; their customer token is at the end")


def _print_try_it(runtime: Runtime, counts: dict[str, Any], port: int, partner_key: str, login: str) -> None:
    """Last, so that the URL and credentials are on screen while GraphiQL is served."""
    token = ""
    if counts["busiest"] is not None:
        token = issue_customer_token(runtime.settings.secret("token_secret"), counts["busiest"][0], 24 * 60).token
    print("\n== try it")
    print(f"   GraphiQL:         http://127.0.0.1:{port}/graphql")
    print(f"   customer token:   Authorization: Bearer {token}")
    print(f"   partner API key:  X-Api-Key: {partner_key}")
    print(f"   staff login:      {login}")
    print("   query:            { orders(first: 5) { edges { node { channel channelOrderId status } } } }")


SUBSCRIBE = "subscription { orderUpdates { version status snapshot order { id channelOrderId } } }"


async def _live_push(runtime: Runtime, port: int, partner_key: str, day: SimDay) -> None:
    """A customer app subscribes over graphql-transport-ws; then another buyer's unpaid order and one
    of its own are paid through the partner API: only its own change is pushed to it."""
    async with runtime.core.sessions() as session:
        query = select(Order).where(Order.status == "PENDING_PAYMENT", col(Order.buyer_uid).is_not(None))
        pending = list((await session.exec(query.order_by(col(Order.id)))).all())
        other = next((o for o in pending if o.buyer_uid != pending[0].buyer_uid), None) if pending else None
        if not pending or other is None:
            print("\n== live push: skipped (no unpaid orders of two buyers)")
            return
        mine = pending[0]
        owned = (await session.exec(select(func.count()).where(Order.buyer_uid == mine.buyer_uid))).one()
    sims = {o.channel_order_id: o for o in day.orders}
    assert mine.buyer_uid is not None
    token = issue_customer_token(runtime.settings.secret("token_secret"), mine.buyer_uid, 10).token
    url = f"ws://127.0.0.1:{port}/graphql"
    async with (
        connect(url, subprotocols=["graphql-transport-ws"]) as ws,  # type: ignore[list-item]
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        snapshot = [json.loads(await ws.recv()) for _ in range(min(owned, 100))]

        async def pay(row: Order) -> float:
            body = {**sims[row.channel_order_id].as_input(), "status": "PAID", "paidAt": utcnow().isoformat()}
            started = time.perf_counter()
            await client.post(
                "/graphql", json={"query": SINGLE, "variables": {"input": body}}, headers={"X-Api-Key": partner_key}
            )
            return started

        await pay(other)
        leaked = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while True:
                    await ws.recv()
                    leaked += 1
        started = await pay(mine)
        async with asyncio.timeout(10):
            update = json.loads(await ws.recv())["payload"]["data"]["orderUpdates"]
        delay_ms = (time.perf_counter() - started) * 1000
    print("\n== live push: a customer app subscribed to its orders over graphql-transport-ws")
    print(f"   snapshot first: {len(snapshot)} of the buyer's orders with their current status and version")
    print(f"   another buyer's order paid:  pushes received {leaked}")
    print(
        f"   own order paid:              {mine.status} -> {update['status']} (version {update['version']}),"
        f" pushed {delay_ms:.0f} ms after the partner's request"
    )


INTAKE_SUBMIT = """mutation($input: SubmitChannelOrderInput!) { submitChannelOrder(input: $input) {
  order { channelOrderId } userErrors { code } } }"""
INTAKE_PIN = """mutation($c: SalesChannel!) { pinSchemaBaseline(input: {channel: $c}) { userErrors { code } } }"""
INTAKE_RULES = """mutation($input: SaveCleaningRulesInput!) { saveCleaningRules(input: $input) {
  ruleSet { version } userErrors { field message code } } }"""
INTAKE_ALERTS = """{ driftAlerts(first: 50) { nodes { channel path change detail example count } } }"""
INTAKE_REPLAY = """mutation($input: ReplayInput!) { replayChannelMessages(input: $input) {
  messages { channelOrderId diff applied error outcomeBefore supersedes } userErrors { code } } }"""
INTAKE_MONITOR = """query($c: SalesChannel!) { upstreamMonitor(channel: $c) { timeline { what summary } } }"""
INTAKE_RULE_SETS = {
    "AMAZON": [{"op": "drop_if_equals", "path": "order.order_id_suffix", "value": "ERR"}],
    "DOUYIN": [{"op": "map_values", "path": "data.shop_order_detail.order_status", "mapping": {"106": 105}}],
    "WECHAT_CHANNELS": [{"op": "coerce", "path": "order.order_detail.price_info.order_price", "to": "integer"}],
}


EXCHANGE = """mutation($i: IssueCustomerTokenInput!) {
  issueCustomerToken(input: $i) { tokens { accessToken refreshToken } userErrors { code } } }"""
REFRESH = (
    """mutation($i: RefreshTokenInput!) { refreshToken(input: $i) { tokens { accessToken } userErrors { code } } }"""
)


async def _signin_demo(runtime: Runtime, base: str, day: SimDay) -> None:
    """The merchant's app backend exchanges a buyer's phone for tokens; a replayed refresh token ends the sign-in."""
    async with runtime.core.sessions() as session, session.begin():
        app_key = await issue_partner_key(session, "shop-app", ["customers:write"])
    phone = next(o.buyer_phone for o in day.orders if runtime.core.identity.key_for_phone(o.buyer_phone).uid)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        key = {"X-Api-Key": app_key.key}
        tokens = (await _gql(client, EXCHANGE, {"i": {"phone": phone}}, key))["issueCustomerToken"]["tokens"]
        mine = await _gql(
            client,
            "{ orders(first: 100) { edges { cursor } } }",
            {},
            {"Authorization": f"Bearer {tokens['accessToken']}"},
        )
        first = await _gql(client, REFRESH, {"i": {"refreshToken": tokens["refreshToken"]}}, {})
        replay = await _gql(client, REFRESH, {"i": {"refreshToken": tokens["refreshToken"]}}, {})
    refreshed = "ok" if first["refreshToken"]["tokens"] else "refused"
    again = replay["refreshToken"]["userErrors"][0]["code"]
    print("\n== customer sign-in: the shop's app backend exchanged a buyer's phone for tokens (customers:write)")
    print(
        f"   the buyer sees {len(mine['orders']['edges'])} order(s); refresh: {refreshed}; "
        f"the same refresh token again: {again} (the sign-in ends)"
    )


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"demo request refused: {body['errors']}")
    return body["data"]


async def _channel_intake_demo(port: int, bridge_key: str, staff_email: str, password: str, seed: int) -> None:
    """Raw channel payloads with upstream changes injected mid-day: alerts, rules, replay, and clean numbers."""
    from sim.channel_feed import SUFFIX_FROM, ZONE, channel_day

    feed = channel_day(seed, (utcnow() - timedelta(days=1)).date(), 20)
    partner = {"X-Api-Key": bridge_key}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        login = await _gql(client, "mutation($i: StaffLoginInput!) { staffLogin(input: $i) { token } }",
                           {"i": {"email": staff_email, "password": password}}, {})  # fmt: skip
        staff = {"Authorization": f"Bearer {login['staffLogin']['token']}"}
        started = utcnow() - timedelta(seconds=1)

        async def push(items: list[Any]) -> tuple[list[str], int]:
            ids, refused = [], 0
            for item in items:
                data = await _gql(client, INTAKE_SUBMIT, {"input": {"channel": item.channel,
                                  "payload": json.dumps(item.payload, ensure_ascii=False)}}, partner)  # fmt: skip
                result = data["submitChannelOrder"]
                refused += bool(result["userErrors"])
                ids += [result["order"]["channelOrderId"]] if result["order"] else []
            return ids, refused

        morning = [i for i in feed if i.at.astimezone(ZONE).time() < SUFFIX_FROM]
        afternoon = [i for i in feed if i.at.astimezone(ZONE).time() >= SUFFIX_FROM]
        late = afternoon[len(afternoon) // 2 :]
        afternoon = afternoon[: len(afternoon) // 2]
        await push(morning)
        for channel in ("TAOBAO", "DOUYIN", "WECHAT_CHANNELS", "AMAZON"):
            await _gql(client, INTAKE_PIN, {"c": channel}, staff)
        before_ids, refused = await push(afternoon)
        print(f"\n== channel intake: {len(feed)} raw payloads from 4 channels; baselines pinned at noon")
        print(f"   afternoon changes: {len(afternoon)} payloads, {refused} refused (kept raw), "
              f"{sum(i.endswith('-ERR') for i in before_ids)} order numbers ending in -ERR")  # fmt: skip
        alerts = (await _gql(client, INTAKE_ALERTS, {}, staff))["driftAlerts"]["nodes"]
        print(f"   drift alerts raised: {len(alerts)}")
        for alert in sorted(alerts, key=lambda a: (a["channel"], a["path"])):
            print(f"     {alert['channel']:<16} {alert['change']:<13} {alert['path']} {alert['detail']} "
                  f"e.g. {alert['example']} x{alert['count']}")  # fmt: skip
        for channel, rules in INTAKE_RULE_SETS.items():
            saved = await _gql(client, INTAKE_RULES, {"input": {"channel": channel, "rules": rules}}, staff)
            version = (saved["saveCleaningRules"]["ruleSet"] or {}).get("version")
            print(f"   rule saved: {channel} v{version} {json.dumps(rules, ensure_ascii=False)}")
        window = {"receivedFrom": started.isoformat(), "receivedTo": utcnow().isoformat()}
        dry = await _gql(client, INTAKE_REPLAY, {"input": {"channel": "AMAZON", **window}}, staff)
        changed = [m for m in dry["replayChannelMessages"]["messages"] if m["diff"]]
        print(f"   replay dry run, AMAZON: {len(dry['replayChannelMessages']['messages'])} messages, "
              f"{len(changed)} would change")  # fmt: skip
        if changed:
            print(f"     e.g. {json.dumps(changed[0]['diff'])}")
        superseding = sum(m["supersedes"] is not None for m in dry["replayChannelMessages"]["messages"])
        print(f"   ... of which {superseding} name the sale differently: applying makes the old order VOID, once")
        for channel in ("AMAZON", "DOUYIN", "WECHAT_CHANNELS"):
            real = await _gql(client, INTAKE_REPLAY, {"input": {"channel": channel, "apply": True, **window}}, staff)
            messages = real["replayChannelMessages"]["messages"]
            if channel == "AMAZON":
                again = await _gql(
                    client, INTAKE_REPLAY, {"input": {"channel": channel, "apply": True, **window}}, staff
                )
                twice = sum(m["supersedes"] is not None for m in again["replayChannelMessages"]["messages"])
                print(f"   replay applied, AMAZON: {sum(m['supersedes'] is not None for m in messages)} -ERR orders "
                      f"superseded by the right number; applied again: {twice} more")  # fmt: skip
                continue
            rescued = sum(m["applied"] and m["outcomeBefore"] == "REJECTED" for m in messages)
            again = sum(m["applied"] and m["outcomeBefore"] != "REJECTED" for m in messages)
            print(
                f"   replay applied, {channel}: {rescued} refused payloads now accepted, {again} re-applied unchanged"
            )
        after_ids, refused = await push(late)
        print(f"   after the rules: {len(late)} payloads, {refused} refused, "
              f"{sum(i.endswith('-ERR') for i in after_ids)} order numbers ending in -ERR")  # fmt: skip
        monitor = await _gql(client, INTAKE_MONITOR, {"c": "AMAZON"}, staff)
        for entry in monitor["upstreamMonitor"]["timeline"]:
            print(f"   monitor: {entry['summary']}")


async def _money_demo(runtime: Runtime, port: int, day: SimDay, seed: int) -> None:
    """Payment notifications with real faults over HTTP, the providers' statements, one reconciliation run,
    and the reversal of the duplicate it finds."""
    from pydantic import SecretStr

    from domain.ledger.models import FundVoucher, OrderAdjustment
    from domain.reconcile.models import ReconItem, Resolution
    from domain.reconcile.service import import_statement, match_rate, parse_statement, reconcile, resolve_item
    from sim.payment_providers import AlipayPlatform, WechatPayPlatform, generic_notification
    from sim.payments_day import PROVIDERS, generate_payments
    from sim.statements import alipay_trade_detail, bank_csv, wechat_trade_bill

    folder = runtime.settings.data_dir.resolve() / "money"
    folder.mkdir(parents=True, exist_ok=True)
    wechat, alipay, secret = WechatPayPlatform(), AlipayPlatform(), secrets.token_hex(16)
    runtime.core.settings = runtime.settings.model_copy(
        update={
            "wechatpay_platform_public_key_path": wechat.write_public_key(folder / "wechatpay-platform.pem"),
            "wechatpay_platform_serial": wechat.serial,
            "wechatpay_apiv3_key": SecretStr(wechat.apiv3_key),
            "alipay_public_key_path": alipay.write_public_key(folder / "alipay-public.pem"),
            "payment_webhook_secrets": {"lianlian": SecretStr(secret)},
        }
    )
    payments = generate_payments(day.orders, utcnow(), seed)
    answers: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for delivery in payments.deliveries:
            if delivery.provider == "wechatpay":
                headers, body = wechat.notification(
                    delivery.payload, event_type=delivery.event_type, timestamp=int(time.time())
                )
                response = await client.post("/payments/wechatpay/notify", content=body, headers=headers)
            elif delivery.provider == "alipay":
                form = {"Content-Type": "application/x-www-form-urlencoded"}
                response = await client.post(
                    "/payments/alipay/notify", content=alipay.notification(delivery.payload), headers=form
                )
            else:
                headers, body = generic_notification(secret, delivery.payload)
                response = await client.post(f"/payments/{delivery.provider}/notify", content=body, headers=headers)
            answers[response.status_code] += 1
    resent = sum(1 for d in payments.deliveries if d.fault == "resent")
    writers = {
        "wechatpay": lambda rows: wechat_trade_bill(rows),
        "alipay": lambda rows: alipay_trade_detail(rows, utcnow()),
        "lianlian": lambda rows: bank_csv(rows),
    }
    async with runtime.core.sessions() as session, session.begin():
        ids = []
        for provider in PROVIDERS:
            name = f"{provider}-statement.csv"
            data = writers[provider](payments.statements[provider])
            (folder / name).write_bytes(data)
            parsed = parse_statement(name, data, provider=provider)
            ids.append((await import_statement(session, name, data, parsed, "demo")).statement_id)
        runs = await reconcile(session, ids, trigger="demo")
    async with runtime.core.sessions() as session:
        vouchers = (await session.exec(select(func.count()).select_from(FundVoucher))).one()
        doubled = (
            await session.exec(
                select(func.count()).select_from(
                    select(OrderAdjustment.voucher_id)
                    .group_by(col(OrderAdjustment.voucher_id))
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        ).one()
        duplicate = (
            await session.exec(
                select(ReconItem).where(
                    ReconItem.drift == "DUPLICATE_NOTIFICATION", ReconItem.provider_txn_id == payments.duplicate_txn
                )
            )
        ).first()
    print(f"\n== money: {len(payments.deliveries)} payment notifications ({resent} resent), answers {dict(answers)}")
    print(f"   {vouchers} fund vouchers posted; double postings: {doubled}")
    seen: Counter[str] = Counter()
    lines = matched = 0
    for run in runs:
        seen.update(run.counts)
        lines += run.statement_lines
        matched += run.matched
        print(f"   {run.provider:<10} {run.matched}/{run.statement_lines} lines matched ({match_rate(run):.2%})")
    print("   drift (orderhub / simulator)")
    for drift in sorted(set(seen) | set(payments.expected)):
        print(f"   {drift:<24} {seen.get(drift, 0):>4} / {payments.expected.get(drift, 0)}")
    print(f"   match rate: {matched / max(lines, 1):.2%} of {lines} statement lines")
    if duplicate is not None and duplicate.id is not None:
        async with runtime.core.sessions() as session, session.begin():
            await resolve_item(
                session, duplicate.id, Resolution.REVERSED, actor="finance@demo.orderhub", note="notified twice"
            )
        print(
            f"   reversed duplicate notification {duplicate.provider_txn_id}: "
            f"-{(duplicate.system_amount or 0) / 100:.2f} CNY appended by finance@demo.orderhub"
        )


async def _identity_section(runtime: Runtime, base: str, key: str, seed: int, day: date) -> None:
    """Buyers on several channels, repeat taps and masked-only buyers: what identity makes of them."""
    traffic = generate_identity_traffic(seed, day)
    ids = [(o.order.channel, o.order.channel_order_id) for o in traffic.orders]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for start in range(0, len(traffic.orders), BATCH):
            batch = [o.as_input() for o in traffic.orders[start : start + BATCH]]
            body = {"query": SUBMIT, "variables": {"input": {"orders": batch}}}
            response = await client.post("/graphql", json=body, headers={"X-Api-Key": key})
            errors = response.json()["data"]["submitOrders"]["userErrors"]
            if errors:
                raise RuntimeError(f"the identity traffic was refused: {errors[:3]}")
    await runtime.relay.drained()
    await run_queued_jobs(runtime)
    async with runtime.core.sessions() as session:
        rows = []
        for channel, order_id in ids:
            query = select(Order.id, Order.buyer_uid).where(
                Order.channel == channel, Order.channel_order_id == order_id
            )
            rows.append((await session.exec(query)).one())
        mine = {order_id for order_id, _ in rows}
        uids = {uid for _, uid in rows if uid is not None}
        groups = (await session.exec(select(OrderGroup.parent_order_id))).all()
        children = (await session.exec(select(func.count()).where(col(Order.parent_order_id).in_(groups)))).one()
        suggestions = (await session.exec(select(func.count()).where(col(MatchSuggestion.order_id).in_(mine)))).one()
        tz = runtime.settings.merchant_zone
        since = day_start_of(day - timedelta(days=1), tz)
        cells = await duplicate_heatmap(session, since, day_start_of(day + timedelta(days=2), tz), tz=tz)
    accounts = len({(o.order.channel, o.order.platform_buyer_id) for o in traffic.orders})
    masked = sum(1 for o in traffic.orders if o.masked)
    print(f"\n== identity: {len(traffic.orders)} orders from {traffic.buyers} simulated people")
    hidden = sum(1 for o in traffic.orders if o.masked and not o.known_later)
    print(
        f"   buyers seen raw: {accounts} channel accounts -> after identity: {len(uids)} buyer UIDs"
        f" (truth: {traffic.buyers} people, {hidden} known only by a masked phone)"
    )
    print(
        f"   groups formed: {len(groups)} parent orders over {children} duplicate orders"
        f" (simulated: {traffic.tap_bursts} bursts of repeat taps, {traffic.tap_bursts + traffic.repeat_taps} orders)"
    )
    print(f"   suggestions raised: {suggestions} for {masked} masked-phone orders (staff decide; none merged)")
    for cell in [c for c in cells if c.duplicates][:3]:
        top = ", ".join(f"{p.sku} {p.rate:.0%}" for p in cell.products[:2])
        print(
            f"   heatmap {local(cell.hour, tz):%Y-%m-%d %H}h {cell.channel:<12} {cell.duplicates}/{cell.orders}"
            f" duplicates  {top}"
        )
