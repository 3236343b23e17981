"""The console's Intake and Settings pages in a real browser: the numbers on each page are the API's, each role
sees only what it may do, both languages render without a missing sentence, and every control takes focus."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from api.graphql.ids import decode_gid
from domain.access.service import issue_partner_key
from domain.channels.drift import Change, Finding
from domain.channels.service import count_alerts
from domain.clock import utcnow
from domain.i18n.catalogs import catalog
from domain.webhooks.events import WebhookEventType
from domain.webhooks.models import DeliveryState, WebhookDelivery, WebhookEvent
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.fixtures.channels import order_object, payload
from tests.integration.console_fixtures import console, missing_keys, shot, staff_tokens, tab_through
from tests.integration.test_channel_intake import submit
from tests.integration.test_drift_notifiers import SECRET, Robots, robots

__all__ = ["robots"]  # the fixture

DRIFT = """query { driftAlerts(first: 100) { nodes { path count } } }"""
REPLAY = """mutation($input: ReplayInput!) { replayChannelMessages(input: $input) {
  messages { channelOrderId diff applied } userErrors { code } } }"""
SAVE = """mutation($input: SaveCleaningRulesInput!) { saveCleaningRules(input: $input) {
  ruleSet { version } userErrors { field message code } } }"""
EVIDENCE = """mutation($input: ReplayEvidenceInput!) { replayEvidenceEvents(input: $input) {
  events { verdict } userErrors { code } } }"""
MONITOR = """{ upstreamMonitor(channel: AMAZON) { ruleVersion timeline { at what } } }"""
CHECK = """mutation($input: SaveCleaningRulesInput!) { checkCleaningRules(input: $input) {
  wouldBeVersion userErrors { field message code } } }"""
ORDERS = """{ orders(first: 10) { nodes { channelOrderId status } } }"""
THRESHOLDS = """{ healthThresholds { metric value } shippedRule { version minMinutesAfterRequest } }"""
ROBOTS = """{ alertRobots { kind configured host signed } }"""
TEST_MESSAGE = """mutation($robot: AlertRobotKind!) { sendRobotTestMessage(input: {robot: $robot}) {
  robot { kind } delivered failure userErrors { field message code } } }"""
KEYS = """{ partnerKeys(first: 50, includeRevoked: true) { nodes { name prefix last4 revokedAt } } }"""
STAFF = """{ staffAccounts(first: 50) { nodes { email roles disabledAt } } }"""
DELIVERIES = """{ webhookEndpoints(first: 5) { nodes { deliveries(first: 5) { nodes { state webhookId } } } } }"""
WEBHOOK = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  endpoint { id } userErrors { code } } }"""


def bearer(token: str, language: str = "zh-CN") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": language}


async def seed_intake(rt: Runtime, api: Api, creds: Credentials) -> None:
    """An Amazon order whose number the channel suffixed with -ERR, and the drift alerts such a change raises."""
    data = payload("AMAZON")
    order_object("AMAZON", data).update(order_id_suffix="ERR")
    await submit(api, creds, "AMAZON", data)
    findings = [
        Finding("order.order_id_suffix", Change.NEW_FIELD, "string", '"ERR"'),
        Finding("order.OrderStatus", Change.NEW_VALUE, "Refunded", '"Refunded"'),
    ]
    async with rt.core.sessions() as session, session.begin():
        for times in range(3):
            await count_alerts(session, [("AMAZON", "amazon.order", f) for f in findings[: 1 + times % 2]], utcnow())


async def test_intake_page(rt: Runtime, api: Api, creds: Credentials, chromium: str, tmp_path: Path) -> None:
    await seed_intake(rt, api, creds)
    tokens = await staff_tokens(rt, ("admin", "ops", "cs"))
    alerts = (await api.gql(DRIFT, headers=bearer(tokens["ops"])))["data"]["driftAlerts"]["nodes"]
    assert len(alerts) == 2

    async with console(rt, chromium) as browser:
        for language in ("zh-CN", "en"):
            page = await browser.open(tokens["ops"], "intake?channel=AMAZON", language)
            assert await page.inner_text("#drift-count") == str(len(alerts))
            counts = await page.eval_on_selector_all(
                "#drift-table tbody tr td:last-child", "c => c.map(e => e.innerText)"
            )
            assert sorted(counts) == sorted(str(a["count"]) for a in alerts)
            assert await page.locator("#rules-save").count() == 0  # only an administrator saves cleaning rules
            assert await page.locator("#rules-readonly").count() == 1
            assert await missing_keys(page) == []
            await shot(page, tmp_path, f"intake-{language}")
        focus = await tab_through(page, 60)
        assert {"select", "textarea", "button"} <= {f["tag"] for f in focus}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        # Operations checks a draft against every accepted sample, beside the rule the API names; nothing is saved.
        ops = await browser.open(tokens["ops"], "intake?channel=AMAZON", "en")
        broken = [{"op": "drop", "path": "order.AmazonOrderId"}]
        checked = await api.gql(CHECK, {"input": {"channel": "AMAZON", "rules": broken}},
                                headers=bearer(tokens["ops"], "en"))  # fmt: skip
        [refusal] = checked["data"]["checkCleaningRules"]["userErrors"]
        await ops.fill("#rules-editor", json.dumps(broken))
        await ops.click("#rules-check")
        await ops.wait_for_selector("#rules-errors li[data-code=BREAKS_MAPPING]")
        assert await ops.inner_text("#rules-errors") == f"Rules: {refusal['message']}"
        await shot(ops, tmp_path, "intake-rule-check-en")
        await ops.fill("#rules-editor", json.dumps([{"op": "drop_if_equals", "path": "order.x", "value": "1"}]))
        await ops.click("#rules-check")
        await ops.wait_for_selector("#status:has-text('would be version 1')")
        assert await ops.is_hidden("#rules-errors")
        saved = await api.gql(MONITOR, headers=bearer(tokens["ops"]))
        assert saved["data"]["upstreamMonitor"]["ruleVersion"] == 0

        # The administrator's editor: a rule the API refuses shows the API's own message next to the rule.
        admin = await browser.open(tokens["admin"], "intake?channel=AMAZON", "en")
        melt = [{"op": "drop", "path": "order.x"}, {"op": "melt"}]
        refused = await api.gql(
            SAVE, {"input": {"channel": "AMAZON", "rules": melt}}, headers=bearer(tokens["admin"], "en")
        )
        [error] = refused["data"]["saveCleaningRules"]["userErrors"]
        await admin.fill("#rules-editor", json.dumps(melt))
        await admin.click("#rules-save")
        await admin.wait_for_selector("#rules-errors:not([hidden])")
        assert await admin.inner_text("#rules-errors") == f"Rule 2: {error['message']}"
        assert await admin.locator("#rules-errors li[data-code=INVALID_RULE]").count() == 1
        await admin.fill("#rules-editor", "[{")
        await admin.click("#rules-save")
        await admin.wait_for_selector("#rules-errors li[data-code=NOT_JSON]")
        await shot(admin, tmp_path, "intake-rule-errors-en")
        rule = [{"op": "drop_if_equals", "path": "order.order_id_suffix", "value": "ERR"}]
        await admin.fill("#rules-editor", json.dumps(rule))
        await admin.fill("#rules-note", "Amazon added a suffix")
        await admin.click("#rules-save")
        await admin.wait_for_selector("#rules-history tbody tr")
        assert "Version 1" in await admin.inner_text("#status")
        monitor = await api.gql(MONITOR, headers=bearer(tokens["admin"]))
        timeline = monitor["data"]["upstreamMonitor"]["timeline"]
        assert timeline and await admin.locator("#rules-timeline tbody tr").count() == len(timeline)
        assert await missing_keys(admin) == []

        # The operator's replay: the dry run's figures are the API's; applying asks first, then changes the order.
        now = utcnow()
        window = {"receivedFrom": (now - timedelta(hours=24)).isoformat(), "receivedTo": now.isoformat()}
        dry = await api.gql(REPLAY, {"input": {"channel": "AMAZON", **window}}, headers=bearer(tokens["ops"]))
        messages = dry["data"]["replayChannelMessages"]["messages"]
        assert len(messages) == 1 and messages[0]["diff"]
        page = await browser.open(tokens["ops"], "intake?channel=AMAZON", "zh-CN")
        await page.click("#replay-dry")
        await page.wait_for_selector("#replay-result[data-applied=false]")
        assert await page.inner_text("#replay-messages") == str(len(messages))
        assert await page.inner_text("#replay-changed") == str(sum(1 for m in messages if m["diff"]))
        assert "902-3159896-1390916" in await page.inner_text("#replay-table pre.diff")
        await shot(page, tmp_path, "intake-dry-run-zh-CN")
        await page.click("#replay-apply")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#replay-result[data-applied=true]")
        orders = (await api.gql(ORDERS, headers=bearer(tokens["ops"])))["data"]["orders"]["nodes"]
        assert "902-3159896-1390916" in {o["channelOrderId"] for o in orders}

        # Warehouse, carrier and payment messages: the same dry run through their own replays.
        evidence = await api.gql(EVIDENCE, {"input": {"upstream": "CARRIER", "source": "SF", **window}},
                                 headers=bearer(tokens["ops"]))  # fmt: skip
        await page.select_option("#events-kind", "CARRIER")
        await page.fill("#events-source", "SF")
        await page.click("#events-dry")
        await page.wait_for_selector("#events-result[data-kind=CARRIER]")
        assert await page.inner_text("#events-count") == str(len(evidence["data"]["replayEvidenceEvents"]["events"]))
        assert await page.is_hidden("#events-apply")
        assert await page.locator("#events-kind option[value=PAYMENT]").count() == 0  # posting payments: admins
        assert await missing_keys(page) == []
        await admin.select_option("#events-kind", "PAYMENT")
        await admin.fill("#events-source", "alipay")
        await admin.click("#events-dry")
        await admin.wait_for_selector("#events-result[data-kind=PAYMENT]")
        assert await admin.inner_text("#events-count") == "0"

        support = await browser.open(tokens["cs"], "intake", "zh-CN")
        assert await support.locator("#nav a[data-page=intake]").count() == 0
        assert await support.locator("#nav a[data-page=settings]").count() == 0
        assert await support.locator("#drift-table").count() == 0


@pytest.fixture
def robot_settings(rt: Runtime, robots: Robots, monkeypatch: pytest.MonkeyPatch) -> Robots:
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    monkeypatch.setattr(rt.settings, "dingtalk_webhook", f"{base}/robot/send?access_token=tok")
    monkeypatch.setattr(rt.settings, "dingtalk_secret", SecretStr(SECRET))
    monkeypatch.setattr(rt.settings, "wecom_webhook", f"{base}/cgi-bin/webhook/send?key=wecom-key")
    monkeypatch.setattr(rt.settings, "alert_robot_extra_hosts", ["127.0.0.1", "localhost"])
    return robots


async def test_robot_test_message_speaks_each_robots_format(rt: Runtime, api: Api, robot_settings: Robots) -> None:
    tokens = await staff_tokens(rt, ("ops", "cs"))
    listed = (await api.gql(ROBOTS, headers=bearer(tokens["ops"])))["data"]["alertRobots"]
    assert listed == [{"kind": "DINGTALK", "configured": True, "host": "127.0.0.1", "signed": True},
                      {"kind": "WECOM", "configured": True, "host": "127.0.0.1", "signed": False}]  # fmt: skip
    for robot in ("DINGTALK", "WECOM"):
        sent = (await api.gql(TEST_MESSAGE, {"robot": robot}, headers=bearer(tokens["ops"])))["data"]
        assert sent["sendRobotTestMessage"] == {"robot": {"kind": robot}, "delivered": True, "failure": None,
                                                "userErrors": []}  # fmt: skip
    (ding_path, ding), (wecom_path, wecom) = robot_settings.received
    assert (ding_path, wecom_path) == ("/robot/send", "/cgi-bin/webhook/send")
    zh = catalog("zh-CN")
    assert ding["markdown"]["title"] == zh["orderhub test message"]  # the merchant's language: the group reads it
    assert (
        "ops-console@shop.example" in ding["markdown"]["text"]
        and "ops-console@shop.example" in wecom["markdown"]["content"]
    )

    rt.settings.dingtalk_secret = SecretStr("wrong")
    refused = (await api.gql(TEST_MESSAGE, {"robot": "DINGTALK"}, headers=bearer(tokens["ops"])))["data"]
    assert refused["sendRobotTestMessage"]["delivered"] is False
    assert "310000" in refused["sendRobotTestMessage"]["failure"]

    rt.settings.wecom_webhook = None
    missing = (await api.gql(TEST_MESSAGE, {"robot": "WECOM"}, headers=bearer(tokens["ops"], "en")))["data"]
    [error] = missing["sendRobotTestMessage"]["userErrors"]
    assert error["code"] == "ROBOT_NOT_CONFIGURED" and "WECOM" in error["message"]
    denied = await api.gql(TEST_MESSAGE, {"robot": "DINGTALK"}, headers=bearer(tokens["cs"]))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(robot_settings.received) == 3


def shown(value: float) -> str:
    return f"{value * 100:.2f}%"


async def test_settings_page(rt: Runtime, api: Api, robot_settings: Robots, chromium: str, tmp_path: Path) -> None:
    tokens = await staff_tokens(rt, ("admin", "ops", "cs"))
    admin = bearer(tokens["admin"])
    async with rt.core.sessions() as session, session.begin():
        erp = await issue_partner_key(session, "erp", ["orders:read"])
    hook = await api.gql(WEBHOOK, {"input": {"url": "https://erp.example/hook", "eventTypes": ["ORDER_SHIPPED"]}},
                         headers={"X-Api-Key": erp.key})  # fmt: skip
    assert hook["data"]["createWebhookEndpoint"]["userErrors"] == []
    async with rt.core.sessions() as session, session.begin():
        shipped = WebhookEventType.ORDER_SHIPPED.value
        event = WebhookEvent(key="order:1:shipped", message_id="msg_console_1", type=shipped, body="{}",
                             created_at=utcnow())  # fmt: skip
        session.add(event)
        await session.flush()
        assert event.id is not None
        endpoint_id = decode_gid(hook["data"]["createWebhookEndpoint"]["endpoint"]["id"])[1]
        failed = DeliveryState.FAILED.value
        session.add(WebhookDelivery(endpoint_id=endpoint_id, event_id=event.id, state=failed, attempts=3,
                                    last_status=500, last_error="HTTP 500", created_at=utcnow()))  # fmt: skip
    basics = (await api.gql(THRESHOLDS, headers=admin))["data"]

    async with console(rt, chromium) as browser:
        for language in ("zh-CN", "en"):
            page = await browser.open(tokens["admin"], "settings", language)
            for threshold in basics["healthThresholds"]:
                assert await page.inner_text(f"[data-metric={threshold['metric']}]") == shown(threshold["value"])
            assert str(basics["shippedRule"]["minMinutesAfterRequest"]) in await page.inner_text("#shipped-rule")
            assert await page.locator("#staff tbody tr").count() == 3
            assert await page.locator("#webhooks tbody tr").count() == 1
            assert "null" not in await page.inner_text("#page") and "undefined" not in await page.inner_text("#page")
            assert await missing_keys(page) == []
            await shot(page, tmp_path, f"settings-{language}")
        focus = await tab_through(page, 120)
        assert {"input", "button", "a"} <= {f["tag"] for f in focus}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        # A threshold changed on the page, with a reason, is the API's new value.
        await page.fill("#threshold-VOUCHER_MATCH", "97.50")
        await page.click("td:has(#threshold-VOUCHER_MATCH) button")
        await page.fill("#confirm-reason", "Statements arrive late this month")
        await page.click("#confirm-ok")
        await page.wait_for_selector("[data-metric=VOUCHER_MATCH]:text('97.50%')")
        after = (await api.gql(THRESHOLDS, headers=admin))["data"]["healthThresholds"]
        assert next(t["value"] for t in after if t["metric"] == "VOUCHER_MATCH") == pytest.approx(0.975)

        await page.click("#robot-test-DINGTALK")
        await page.wait_for_selector("#status:has-text('DingTalk')")
        assert [path for path, _ in robot_settings.received] == ["/robot/send"]

        # A robot set on the page: an address the API refuses is named beside its field, a good one shows its host,
        # and removing it (after a confirmation) brings back the environment's.
        await page.fill("#robot-webhook-WECOM", "https://robots.example/cgi-bin/webhook/send?key=k")
        await page.click("#robot-save-WECOM")
        await page.wait_for_selector("#robot-webhook-error-WECOM [data-code=WEBHOOK_WRONG_HOST]")
        port = robot_settings.server_address[1]
        await page.fill("#robot-webhook-WECOM", f"http://localhost:{port}/cgi-bin/webhook/send?key=wecom-key")
        await page.click("#robot-save-WECOM")
        await page.wait_for_selector("[data-robot-host=WECOM]:text('localhost')")
        listed = (await api.gql(ROBOTS, headers=admin))["data"]["alertRobots"]
        assert [r["host"] for r in listed] == ["127.0.0.1", "localhost"]
        await page.click("#robot-remove-WECOM")
        await page.click("#confirm-ok")
        await page.wait_for_selector("[data-robot-host=WECOM]:text('127.0.0.1')")

        # A partner key: its secret shown once, then revoked after a confirmation.
        await page.fill("#key-name", "douyin-bridge")
        await page.check("#key-channels input[value=DOUYIN]")
        await page.click("#key-create")
        await page.wait_for_selector("#key-value")
        key = await page.input_value("#key-value")
        [made] = [
            k
            for k in (await api.gql(KEYS, headers=admin))["data"]["partnerKeys"]["nodes"]
            if k["name"] == "douyin-bridge"
        ]
        assert key.startswith(made["prefix"]) and key.endswith(made["last4"])
        await shot(page, tmp_path, "settings-new-key-en")
        await page.click("#keys tbody tr:has-text('douyin-bridge') button.danger")
        await page.click("#confirm-ok")
        await page.wait_for_selector("#keys tbody tr:has-text('douyin-bridge'):not(:has(button))")
        keys = (await api.gql(KEYS, headers=admin))["data"]["partnerKeys"]["nodes"]
        assert [k["name"] for k in keys if k["revokedAt"]] == ["douyin-bridge"]

        # A staff account: created, given another role, disabled.
        await page.fill("#staff-email", "night-shift@shop.example")
        await page.fill("#staff-password", "a long enough password")
        await page.click("#staff-create")
        row = "#staff tbody tr:has-text('night-shift@shop.example')"
        await page.wait_for_selector(row)
        await page.check(f"{row} input[value=OPS]")
        await page.click(f"{row} button:not(.danger)")
        await page.wait_for_selector("#status:has-text('The roles are saved.')")
        staff: list[dict[str, Any]] = (await api.gql(STAFF, headers=admin))["data"]["staffAccounts"]["nodes"]
        assert next(s for s in staff if s["email"] == "night-shift@shop.example")["roles"] == ["OPS", "CS"]
        await page.click(f"{row} button.danger")
        await page.click("#confirm-ok")
        await page.wait_for_selector(f"{row} input[disabled]")
        staff = (await api.gql(STAFF, headers=admin))["data"]["staffAccounts"]["nodes"]
        assert next(s for s in staff if s["email"] == "night-shift@shop.example")["disabledAt"] is not None

        await page.click("#webhooks tbody tr button")
        await page.wait_for_selector("#deliveries tbody tr:has-text('FAILED')")
        await page.click("#deliveries tbody tr button")
        await page.wait_for_selector("#deliveries tbody tr:has-text('PENDING')")
        redelivered = await api.gql(DELIVERIES, headers=admin)
        [delivery] = redelivered["data"]["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"]
        assert delivery["state"] == "PENDING" and delivery["webhookId"] == "msg_console_1"
        assert await missing_keys(page) == []

        # Operations sees the thresholds and the shipped rule, may test a robot, and nothing of an administrator's.
        ops = await browser.open(tokens["ops"], "settings", "zh-CN")
        assert await ops.locator("#thresholds input, #shipped-save, #keys, #staff, #webhooks").count() == 0
        assert await ops.locator("#settings-readonly").count() == 1
        assert "null" not in await ops.inner_text("#page")
        assert await ops.locator("#robot-test-WECOM").count() == 1
        assert await ops.locator("#robot-save-DINGTALK, #robot-save-WECOM").count() == 2  # operations sets robots too
        assert await missing_keys(ops) == []
        await shot(ops, tmp_path, "settings-ops-zh-CN")
