"""Health alerts through the hourly job and the real DingTalk/WeCom robot protocol: one message per crossing."""

from __future__ import annotations

from sqlmodel import select

from domain.clock import utcnow
from domain.errors import Problems
from domain.health.models import HealthAlert, HealthSnapshot
from domain.i18n import use_language
from domain.orders.commands import LineSubmission, OrderSubmission, validate_submission
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from runtime.notifiers import DingTalkRobot, WeComRobot
from runtime.process import Runtime
from tests.integration.test_drift_notifiers import SECRET, Robots, robots  # noqa: F401
from workers.health_jobs import compute_health, push_health_alerts
from workers.observed import observed


async def _submit(rt: Runtime, cid: str, utm_source: str | None) -> None:
    from domain.orders.commands import AttributionSubmission

    placed = utcnow()
    problems = Problems()
    sub = OrderSubmission("DOUYIN", cid, "PENDING_PAYMENT", "CNY", placed, [LineSubmission("SKU-1", "t", 1, "9.90")],
                          attribution=AttributionSubmission(utm_source=utm_source))  # fmt: skip
    canonical = validate_submission(sub, (), problems)
    assert canonical is not None, problems.items
    async with rt.core.sessions() as session, session.begin():
        await OrderService(session, rt.core.identity, Outbox(), 1800).submit(
            [canonical], Provenance(Source.CHANNEL, "partner:test")
        )


async def test_one_alert_per_crossing_and_one_clear(rt: Runtime, robots: Robots) -> None:  # noqa: F811
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    targets = [DingTalkRobot(f"{base}/robot/send?access_token=tok", SECRET),
               WeComRobot(f"{base}/cgi-bin/webhook/send?key=wecom-key")]  # fmt: skip
    ctx = {"runtime": rt}
    push = observed(push_health_alerts)  # as the worker runs it: in the merchant's language (zh-CN here)
    await _submit(rt, "DY-1", None)
    assert await compute_health(ctx) == 1
    assert await compute_health(ctx) == 0  # still unhealthy: nothing new
    with use_language("en"):
        assert await push(ctx, targets) == 1
        assert await push(ctx, targets) == 0
    texts = [body["markdown"].get("text") or body["markdown"].get("content") for _, body in robots.received]
    assert len(texts) == 2 and all("**渠道归因准确率** 异常" in t for t in texts)
    assert robots.received[0][1]["markdown"]["title"] == "orderhub 健康度：1 项指标异常"
    assert all(" 00:00 (UTC+08:00)" in t for t in texts)  # the day began at midnight on the merchant's clock

    for n in range(300):
        await _submit(rt, f"DY-2{n}", "douyin")
    assert await compute_health(ctx) == 1  # 300 of 301 > 99.5%: recovered
    with use_language("en"):
        assert await push_health_alerts(ctx, targets) == 1  # run directly: the language of the work at hand
    assert "**channel attribution accuracy** recovered" in robots.received[-1][1]["markdown"].get("content", "")
    async with rt.core.sessions() as session:
        alerts = (await session.exec(select(HealthAlert))).all()
        snapshots = (await session.exec(select(HealthSnapshot))).all()
    assert [(a.state, a.open_key) for a in alerts] == [("CLEARED", None)]
    assert {s.period for s in snapshots} == {"HOUR", "DAY"}
