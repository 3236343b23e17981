"""The self-check: each check passes and fails on the real state it reads; the report over GraphQL and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from domain.access.service import issue_partner_key
from domain.clock import shown, utcnow, zone
from domain.fulfilment.exceptions import open_exception, resolve_exception
from domain.fulfilment.models import ExceptionKind
from domain.fulfilment.rule import change_rule
from domain.health import selfcheck
from domain.health.robots import RobotKind, environment_config
from domain.i18n import use_language
from domain.orders.models import Order
from domain.outbox.service import Outbox
from domain.reconcile import service as reconcile
from runtime.notifiers import Robot, probe_robots, robots_of
from runtime.process import Runtime
from sim.statements import BillRow, wechat_trade_bill
from tests.conftest import Api, Credentials, make_settings
from tests.fixtures.channels import payload
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, confirmation, paid_order, request_ship
from tests.integration.test_channel_intake import PIN, submit
from tests.integration.test_drift_notifiers import SECRET, Robots, robots  # noqa: F401

ROOT = Path(__file__).parents[2]
STRONG_KEY = "k3Y-" + "x" * 40
SHANGHAI = zone("Asia/Shanghai")
SELF_CHECK = """query { selfCheck { generatedAt windowFrom windowTo passed failed markdown json
  shippedWithoutTracking { shipped withoutTracking ratio limit healthy }
  checks { key title passed detail fix } } }"""


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The checks below read the English text; the Chinese report is checked through the API and the CLI."""
    with use_language("en"):
        yield


def settings_with(rt: Runtime, tmp_path: Path, **overrides: Any) -> Any:
    base = rt.settings
    return make_settings(tmp_path, base.resolved_database_url(), rt.redis_url, **overrides)


def public_key(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    path = tmp_path / "platform.pem"
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


async def test_shipped_without_tracking_ratio_and_its_verdict(api: Api, creds: Credentials) -> None:
    who = await callers(api)
    now = utcnow()
    async with api.runtime.core.sessions() as session:
        empty = await selfcheck.shipped_without_tracking(session, now - selfcheck.WINDOW, now)
    assert (empty.shipped, empty.value, empty.healthy) == (0, None, True)
    for n, tracked in ((1, True), (2, False)):
        order = await paid_order(api, creds, f"O-{n}")
        await request_ship(api, who, order["id"], now - timedelta(hours=3))
        extra = {} if tracked else {"expressCode": None, "logisticsCode": None, "packages": []}
        body = confirmation(now - timedelta(hours=2), f"DO-{n}", f"O-{n}", **extra)
        result = await api.gql(WAREHOUSE, {"input": body}, headers=creds.wms_only)
        assert result["data"]["recordWarehouseEvent"]["order"]["status"] == "SHIPPED"
        async with api.runtime.core.sessions() as session:
            ratio = await selfcheck.shipped_without_tracking(session, now - selfcheck.WINDOW, utcnow())
        assert (ratio.shipped, ratio.without_tracking) == (n, n - 1)
    assert ratio.value == 0.5 and not ratio.healthy
    async with api.runtime.core.sessions() as session:
        later = await selfcheck.shipped_without_tracking(session, now + timedelta(days=7), now + timedelta(days=14))
    assert later.shipped == 0  # shipped outside the window


async def test_physical_outbound_sources(rt: Runtime, creds: Credentials) -> None:
    async with rt.core.sessions() as session:
        assert (await selfcheck.physical_outbound_sources(session)).passed
    async with rt.core.sessions() as session, session.begin():
        await issue_partner_key(session, "erp-does-everything", ["orders:write", "wms:write"])
    async with rt.core.sessions() as session:
        check = await selfcheck.physical_outbound_sources(session)
    assert not check.passed and "erp-does-everything" in check.detail


async def test_shipped_rule(rt: Runtime) -> None:
    async with rt.core.sessions() as session:
        fresh = await selfcheck.shipped_rule(session)
    assert not fresh.passed and "no stored rule" in fresh.detail
    async with rt.core.sessions() as session, session.begin():
        await change_rule(session, by="staff:admin@shop.example", reason="reviewed at onboarding")
    async with rt.core.sessions() as session:
        assert (await selfcheck.shipped_rule(session)).passed
    async with rt.core.sessions() as session, session.begin():
        await change_rule(session, by="staff:admin@shop.example", reason="trial", require_outbound_time=False)
    async with rt.core.sessions() as session:
        lax = await selfcheck.shipped_rule(session)
    assert not lax.passed and "without a time" in lax.detail


def test_identity_key(rt: Runtime, tmp_path: Path) -> None:
    assert not selfcheck.identity_key(settings_with(rt, tmp_path, identity_key=None)).passed
    assert not selfcheck.identity_key(settings_with(rt, tmp_path, identity_key="changeme")).passed
    short = selfcheck.identity_key(settings_with(rt, tmp_path, identity_key="test-identity-key-0123456789"))
    assert not short.passed and "shorter than 32" in short.detail
    assert selfcheck.identity_key(settings_with(rt, tmp_path, identity_key=STRONG_KEY)).passed


def test_merge_window(rt: Runtime, tmp_path: Path) -> None:
    assert selfcheck.merge_window(settings_with(rt, tmp_path)).passed
    assert not selfcheck.merge_window(settings_with(rt, tmp_path, merge_window_seconds=0)).passed
    assert not selfcheck.merge_window(settings_with(rt, tmp_path, merge_window_seconds=86_400)).passed


def test_payment_providers(rt: Runtime, tmp_path: Path) -> None:
    assert not selfcheck.payment_providers(settings_with(rt, tmp_path)).passed
    key = public_key(tmp_path)
    wechat = {"wechatpay_platform_public_key_path": key, "wechatpay_platform_serial": "5157F09E",
              "wechatpay_apiv3_key": "a" * 32}  # fmt: skip
    assert selfcheck.payment_providers(settings_with(rt, tmp_path, **wechat)).passed
    half = selfcheck.payment_providers(settings_with(rt, tmp_path, **wechat | {"wechatpay_apiv3_key": None}))
    assert not half.passed and "32 bytes" in half.detail
    missing = selfcheck.payment_providers(settings_with(rt, tmp_path, alipay_public_key_path=tmp_path / "none.pem"))
    assert not missing.passed and "unreadable" in missing.detail
    generic = {"payment_webhook_secrets": {"lianlian": "s" * 32}}
    assert selfcheck.payment_providers(settings_with(rt, tmp_path, **generic)).passed
    weak = selfcheck.payment_providers(settings_with(rt, tmp_path, **wechat, payment_webhook_secrets={"x": "short"}))
    assert not weak.passed and "broken: x" in weak.detail


async def test_reconciliation_and_statement_freshness(rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "statements"
    folder.mkdir()
    async with rt.core.sessions() as session:
        assert not (await selfcheck.reconciliation(session, settings_with(rt, tmp_path), SHANGHAI)).passed
        configured = settings_with(rt, tmp_path, statement_dir=folder)
        assert (await selfcheck.reconciliation(session, configured, SHANGHAI)).passed
        bad = settings_with(rt, tmp_path, statement_dir=tmp_path / "nowhere", merchant_timezone="Mars/Olympus")
        failed = await selfcheck.reconciliation(session, bad, SHANGHAI)
        assert not failed.passed and "not a readable folder" in failed.detail and "Mars/Olympus" in failed.detail
        assert not (await selfcheck.statement_received(session, utcnow(), SHANGHAI)).passed
    bill = wechat_trade_bill([BillRow(datetime(2026, 11, 24, 4, tzinfo=UTC), "W1", "T1", "PAYMENT", 8000)])
    async with rt.core.sessions() as session, session.begin():
        await reconcile.import_statement(session, "wx.csv", bill, reconcile.parse_statement("wx.csv", bill), "test")
    async with rt.core.sessions() as session:
        assert (await selfcheck.statement_received(session, utcnow(), SHANGHAI)).passed
        stale = await selfcheck.statement_received(session, utcnow() + timedelta(hours=25), SHANGHAI)
    assert not stale.passed and "last statement received" in stale.detail
    assert stale.detail.endswith("(UTC+08:00)")  # on the merchant's clock, its offset said


async def test_schema_baselines(api: Api, creds: Credentials) -> None:
    since = utcnow() - selfcheck.WINDOW
    async with api.runtime.core.sessions() as session:
        assert (await selfcheck.schema_baselines(session, since)).passed
    await submit(api, creds, "DOUYIN", payload("DOUYIN"))
    async with api.runtime.core.sessions() as session:
        unpinned = await selfcheck.schema_baselines(session, since)
    assert not unpinned.passed and "DOUYIN douyin.order" in unpinned.detail
    assert (await api.gql(PIN, {"c": "DOUYIN"}, headers=creds.admin))["data"]["pinSchemaBaseline"]["userErrors"] == []
    async with api.runtime.core.sessions() as session:
        assert (await selfcheck.schema_baselines(session, since)).passed


def env_robots(settings: Any) -> list[Robot]:
    return robots_of([environment_config(settings, kind) for kind in RobotKind])


async def test_alert_robot_is_probed_for_real(rt: Runtime, tmp_path: Path, robots: Robots) -> None:  # noqa: F811
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    none = await selfcheck.alert_robot(lambda: probe_robots(env_robots(settings_with(rt, tmp_path))))
    assert not none.passed and "no DingTalk or WeCom robot" in none.detail
    good = settings_with(rt, tmp_path, dingtalk_webhook=f"{base}/robot/send?access_token=t", dingtalk_secret=SECRET,
                         wecom_webhook=f"{base}/cgi-bin/webhook/send?key=wecom-key")  # fmt: skip
    assert (await selfcheck.alert_robot(lambda: probe_robots(env_robots(good)))).passed
    assert [path for path, _ in robots.received] == ["/robot/send", "/cgi-bin/webhook/send"]
    wrong = settings_with(rt, tmp_path, wecom_webhook=f"{base}/cgi-bin/webhook/send?key=revoked")
    refused = await selfcheck.alert_robot(lambda: probe_robots(env_robots(wrong)))
    assert not refused.passed and "93000" in refused.detail
    gone = settings_with(rt, tmp_path, wecom_webhook="http://127.0.0.1:9/cgi-bin/webhook/send?key=k")
    unreachable = await selfcheck.alert_robot(lambda: probe_robots(env_robots(gone), seconds=1.0))
    assert not unreachable.passed and "ConnectError" in unreachable.detail


async def test_exception_closure_counts_young_cases_only_once_resolved(api: Api, creds: Credentials) -> None:
    await paid_order(api, creds, "E-1")
    async with api.runtime.core.sessions() as session:
        [order] = (await session.exec(select(Order))).all()
    async with api.runtime.core.sessions() as session, session.begin():
        outbox = Outbox()
        ids = [await open_exception(session, outbox, ExceptionKind.WAREHOUSE_EXCEPTION, f"case {n}", order_id=order.id)
               for n in range(2)]  # fmt: skip
        assert ids[0] is not None
        await resolve_exception(session, outbox, ids[0], "staff:ops@shop.example", "re-sent to the warehouse")
        await outbox.flush(session)
    now = utcnow()
    async with api.runtime.core.sessions() as session:
        young = await selfcheck.exception_closure(session, now - selfcheck.WINDOW, now)
        later = now + timedelta(days=4)  # the open case is now past 72 h
        overdue = await selfcheck.exception_closure(session, later - selfcheck.WINDOW, later)
        none = await selfcheck.exception_closure(session, now - timedelta(days=30), now - timedelta(days=23))
    assert young.passed and "1 of 1 resolved" in young.detail
    assert not overdue.passed and "1 of 2 resolved" in overdue.detail and "50.0%" in overdue.detail
    assert none.passed and "no exception due" in none.detail


async def test_staff_query_returns_the_report(api: Api, creds: Credentials) -> None:
    result = await api.gql(SELF_CHECK, headers={**creds.admin, "Accept-Language": "en"})
    assert "errors" not in result, result
    report = result["data"]["selfCheck"]
    assert len(report["checks"]) == 10 and report["passed"] + report["failed"] == 10
    assert {c["key"] for c in report["checks"]} >= {"identity_key", "alert_robot", "exception_closure"}
    assert all(c["fix"] for c in report["checks"])
    assert report["markdown"].startswith("# orderhub self-check")
    assert "to " + shown(datetime.fromisoformat(report["generatedAt"]), SHANGHAI) in report["markdown"]
    assert report["generatedAt"].endswith("+00:00")  # the API's value stays UTC
    assert json.loads(report["json"])["failed"] == report["failed"]
    assert report["shippedWithoutTracking"] == {"shipped": 0, "withoutTracking": 0, "ratio": None, "limit": 0.05,
                                                "healthy": True}  # fmt: skip
    refused = await api.gql(SELF_CHECK, headers=creds.cs)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await api.gql(SELF_CHECK)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_report_speaks_the_callers_language_with_the_same_keys_and_verdicts(
    api: Api, creds: Credentials
) -> None:
    english = (await api.gql(SELF_CHECK, headers={**creds.admin, "Accept-Language": "en"}))["data"]["selfCheck"]
    chinese = (await api.gql(SELF_CHECK, headers={**creds.admin, "Accept-Language": "zh-CN"}))["data"]["selfCheck"]
    assert [(c["key"], c["passed"]) for c in chinese["checks"]] == [(c["key"], c["passed"]) for c in english["checks"]]
    titles = {c["key"]: c["title"] for c in chinese["checks"]}
    assert titles["identity_key"] == "身份密钥已设置且不是默认值"
    assert titles["alert_robot"] == "告警机器人可以连通"
    assert {c["key"]: c["title"] for c in english["checks"]}["alert_robot"] == "Alert robot reachable"
    assert chinese["markdown"].startswith("# orderhub 自检")
    assert "| 检查项 | 详情 | 修复方法 |" in chinese["markdown"]
    assert english["markdown"].startswith("# orderhub self-check")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english["markdown"])


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_cli_prints_and_writes_the_report(tmp_path: Path, fmt: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")} | {
        "ORDERHUB_DATA_DIR": str(tmp_path / "data"),
        "ORDERHUB_MERGE_WINDOW_SECONDS": "5",
        "ORDERHUB_MERCHANT_LANGUAGE": "en",
    }
    out = tmp_path / f"report.{fmt}"
    done = subprocess.run([sys.executable, "-m", "cli.main", "selfcheck", "--format", fmt, "--output", str(out)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr  # a fresh install fails checks, and says so in its exit code
    assert out.read_text() == done.stdout
    if fmt == "json":
        report = json.loads(done.stdout)
        checks = {c["key"]: c for c in report["checks"]}
        assert not checks["identity_key"]["passed"] and not checks["merge_window"]["passed"]
        assert checks["merge_window"]["detail"].startswith("5 s")
    else:
        assert "| FAIL | Identity key set and not a default |" in done.stdout


def test_cli_speaks_the_merchants_language(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")} | {
        "ORDERHUB_DATA_DIR": str(tmp_path / "data"),
        "ORDERHUB_MERCHANT_LANGUAGE": "zh-CN",
    }
    done = subprocess.run([sys.executable, "-m", "cli.main", "selfcheck"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("# orderhub 自检")
    assert "| 未通过 | 身份密钥已设置且不是默认值 |" in done.stdout
