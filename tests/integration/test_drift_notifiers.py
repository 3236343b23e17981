"""Drift digests reach DingTalk and WeCom robots: a local server checks the real signature and message shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from domain.channels.drift import Change, Finding
from domain.channels.models import DriftAlert
from domain.channels.service import count_alerts
from domain.clock import utcnow
from domain.i18n import use_language
from runtime.notifiers import DingTalkRobot, WeComRobot
from runtime.process import Runtime
from workers.intake_jobs import push_drift_alerts
from workers.observed import observed

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


class Robots(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, Any]]]


class Handler(BaseHTTPRequestHandler):
    server: Robots

    def do_POST(self) -> None:
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if url.path == "/robot/send":
            query = parse_qs(url.query)
            timestamp = query["timestamp"][0]
            expected = base64.b64encode(
                hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
            ).decode()
            fresh = abs(int(timestamp) - time.time() * 1000) < 3_600_000
            shaped = body["msgtype"] == "markdown" and body["markdown"]["title"] and body["markdown"]["text"]
            if query["sign"][0] != expected or not fresh or not shaped:
                answer = {"errcode": 310000, "errmsg": "sign not match"}
        elif url.path == "/cgi-bin/webhook/send":
            if parse_qs(url.query).get("key") != ["wecom-key"] or body["msgtype"] != "markdown":
                answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
            elif not body["markdown"]["content"]:
                answer = {"errcode": 40058, "errmsg": "content empty"}
        self.server.received.append((url.path, body if answer["errcode"] == 0 else {"refused": answer}))
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def robots() -> Iterator[Robots]:
    server = Robots(("127.0.0.1", 0), Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def storm(rt: Runtime, times: int) -> None:
    findings = [
        Finding("order.order_id_suffix", Change.NEW_FIELD, "string", '"ERR"'),
        Finding("order.OrderStatus", Change.NEW_VALUE, "Refunded", '"Refunded"'),
    ]
    async with rt.core.sessions() as session, session.begin():
        for _ in range(times):
            for finding in findings:
                await count_alerts(session, [("AMAZON", "amazon.order", finding)], utcnow())


async def test_a_storm_becomes_one_signed_message_per_robot_per_window(rt: Runtime, robots: Robots) -> None:
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    targets = [DingTalkRobot(f"{base}/robot/send?access_token=tok", SECRET),
               WeComRobot(f"{base}/cgi-bin/webhook/send?key=wecom-key")]  # fmt: skip
    await storm(rt, 40)
    with use_language("en"):
        assert await push_drift_alerts({"runtime": rt}, targets) == 2
    assert [path for path, _ in robots.received] == ["/robot/send", "/cgi-bin/webhook/send"]
    ding, wecom = robots.received[0][1], robots.received[1][1]
    assert "refused" not in ding and "refused" not in wecom
    assert "gained `order.order_id_suffix`: 40 new" in ding["markdown"]["text"]
    assert "(UTC+08:00), e.g." in ding["markdown"]["text"]  # when it began, on the merchant's clock
    assert "Refunded" in wecom["markdown"]["content"]
    assert await push_drift_alerts({"runtime": rt}, targets) == 0  # nothing new: the window stays quiet
    assert len(robots.received) == 2
    await storm(rt, 1)
    with use_language("en"):
        assert await push_drift_alerts({"runtime": rt}, targets) == 2
    assert "1 new, 41 total" in robots.received[2][1]["markdown"]["text"]


async def test_the_digest_job_speaks_the_merchants_language_not_the_work_around_it(
    rt: Runtime, robots: Robots, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job has no caller: observed() makes it speak ORDERHUB_MERCHANT_LANGUAGE whatever language surrounds it."""
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    job = observed(push_drift_alerts)
    await storm(rt, 3)
    assert rt.settings.merchant_language == "zh-CN"
    with use_language("en"):
        assert await job({"runtime": rt}, [WeComRobot(f"{base}/cgi-bin/webhook/send?key=wecom-key")]) == 2
    chinese = robots.received[-1][1]["markdown"]["content"]
    assert "### orderhub：上游数据有 2 处变化" in chinese
    assert "- 新增了 `order.order_id_suffix`：新增 3 次" in chinese
    monkeypatch.setattr(rt.core, "settings", rt.settings.model_copy(update={"merchant_language": "en"}))
    await storm(rt, 1)
    with use_language("zh-CN"):
        assert await job({"runtime": rt}, [WeComRobot(f"{base}/cgi-bin/webhook/send?key=wecom-key")]) == 2
    english = robots.received[-1][1]["markdown"]["content"]
    assert "### orderhub: 2 upstream payload change(s)" in english
    assert "- gained `order.order_id_suffix`: 1 new, 4 total" in english


async def test_a_wrong_secret_is_refused_and_alerts_stay_unsent(rt: Runtime, robots: Robots) -> None:
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    await storm(rt, 1)
    assert await push_drift_alerts({"runtime": rt}, [DingTalkRobot(f"{base}/robot/send", "wrong")]) == 0
    assert robots.received[0][1] == {"refused": {"errcode": 310000, "errmsg": "sign not match"}}
    async with rt.core.sessions() as session:
        assert all(a.notified_count == 0 for a in (await session.exec(select(DriftAlert))).all())
