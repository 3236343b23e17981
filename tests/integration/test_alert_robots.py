"""Alert robots set from the console: the stored robot wins over the environment's and carries the test message and
the alerts (a local DingTalk checks the real signature), nothing readable of its address is stored or logged, the
environment's robot is the fallback, and only a webhook on the robot's own host is accepted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from domain.health.models import StoredRobot
from domain.i18n import use_language
from runtime.process import Runtime
from tests.conftest import Api
from tests.integration.console_fixtures import staff_tokens
from tests.integration.test_drift_notifiers import SECRET, Robots, robots, storm
from workers.intake_jobs import push_drift_alerts

__all__ = ["robots"]  # the fixture

TOKEN = "tok-5e1f0c9a7b"
ROBOTS = """{ alertRobots { kind configured host signed source enabled setBy } }"""
SET = """mutation($input: SetAlertRobotInput!) { setAlertRobot(input: $input) {
  robot { kind configured host signed source enabled setBy setAt } userErrors { field message code } } }"""
REMOVE = """mutation($robot: AlertRobotKind!) { removeAlertRobot(input: {robot: $robot}) {
  robot { kind source host } userErrors { field message code } } }"""
TEST_MESSAGE = """mutation($robot: AlertRobotKind!) { sendRobotTestMessage(input: {robot: $robot}) {
  delivered failure userErrors { code } } }"""
LOG = """{ adminLog(first: 20) { nodes { actor action target details } } }"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kinds(listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in listed}


@pytest.fixture
def local_robots(rt: Runtime, robots: Robots, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fake robots' base address, allowed as a robot host; WeCom set in the environment, DingTalk not."""
    base = f"http://127.0.0.1:{robots.server_address[1]}"
    monkeypatch.setattr(rt.settings, "alert_robot_extra_hosts", ["127.0.0.1"])
    monkeypatch.setattr(rt.settings, "wecom_webhook", f"{base}/cgi-bin/webhook/send?key=wecom-key")
    return base


async def test_a_robot_set_on_the_console_carries_the_alerts(
    rt: Runtime, api: Api, robots: Robots, local_robots: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await staff_tokens(rt, ("ops",))
    ops = bearer(tokens["ops"])
    before = kinds((await api.gql(ROBOTS, headers=ops))["data"]["alertRobots"])
    assert before["DINGTALK"]["source"] == "NONE" and not before["DINGTALK"]["configured"]
    assert before["WECOM"] == {"kind": "WECOM", "configured": True, "host": "127.0.0.1", "signed": False,
                               "source": "ENVIRONMENT", "enabled": True, "setBy": None}  # fmt: skip
    # An environment DingTalk nobody answers: only the stored robot winning lets the alerts through.
    monkeypatch.setattr(rt.settings, "dingtalk_webhook", "http://127.0.0.1:9/robot/send?access_token=env")

    webhook = f"{local_robots}/robot/send?access_token={TOKEN}"
    answer = await api.gql(SET, {"input": {"robot": "DINGTALK", "webhook": webhook, "secret": SECRET}}, headers=ops)
    stored = answer["data"]["setAlertRobot"]
    assert stored["userErrors"] == []
    assert {k: v for k, v in stored["robot"].items() if k != "setAt"} == {
        "kind": "DINGTALK", "configured": True, "host": "127.0.0.1", "signed": True, "source": "STORED",
        "enabled": True, "setBy": "staff:ops-console@shop.example",
    }  # fmt: skip
    sent = await api.gql(TEST_MESSAGE, {"robot": "DINGTALK"}, headers=ops)
    assert sent["data"]["sendRobotTestMessage"] == {"delivered": True, "failure": None, "userErrors": []}

    async with rt.core.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM alert_robot"))).all()
        log = (await conn.execute(text("SELECT details FROM admin_log WHERE target LIKE 'alert_robot:%'"))).all()
    [row] = rows
    kept = repr(tuple(row)).encode() + b"".join(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    assert TOKEN.encode() not in kept and SECRET.encode() not in kept and b"access_token" not in kept
    assert log and all(TOKEN not in str(d) and SECRET not in str(d) for (d,) in log)

    await storm(rt, 2)
    with use_language("en"):
        assert await push_drift_alerts({"runtime": rt}) == 2
    assert [path for path, _ in robots.received] == ["/robot/send", "/robot/send", "/cgi-bin/webhook/send"]
    assert all("refused" not in body for _, body in robots.received)  # the real signature, checked by the fake

    # WeCom switched off without an address of its own silences the environment's; removed, it sends again.
    off = await api.gql(SET, {"input": {"robot": "WECOM", "enabled": False}}, headers=ops)
    assert off["data"]["setAlertRobot"]["robot"] | {"setAt": None} == {
        "kind": "WECOM", "configured": False, "host": None, "signed": False, "source": "STORED", "enabled": False,
        "setBy": "staff:ops-console@shop.example", "setAt": None,
    }  # fmt: skip
    await storm(rt, 1)
    assert await push_drift_alerts({"runtime": rt}) == 2
    assert [path for path, _ in robots.received[3:]] == ["/robot/send"]
    removed = await api.gql(REMOVE, {"robot": "WECOM"}, headers=ops)
    assert removed["data"]["removeAlertRobot"] == {
        "robot": {"kind": "WECOM", "source": "ENVIRONMENT", "host": "127.0.0.1"},
        "userErrors": [],
    }
    again = await api.gql(REMOVE, {"robot": "WECOM"}, headers=ops)
    assert again["data"]["removeAlertRobot"]["userErrors"][0]["code"] == "NOT_FOUND"
    await storm(rt, 1)
    assert await push_drift_alerts({"runtime": rt}) == 2
    assert [path for path, _ in robots.received[4:]] == ["/robot/send", "/cgi-bin/webhook/send"]

    entries = [e for e in (await api.gql(LOG, headers=ops))["data"]["adminLog"]["nodes"]
               if e["target"].startswith("alert_robot:")]  # fmt: skip
    assert [(e["action"], e["target"]) for e in entries] == [
        ("ALERT_ROBOT_REMOVED", "alert_robot:WECOM"), ("ALERT_ROBOT_SET", "alert_robot:WECOM"),
        ("ALERT_ROBOT_SET", "alert_robot:DINGTALK"),
    ]  # fmt: skip
    assert entries[2]["details"] == {"host": "127.0.0.1", "signed": True, "enabled": True, "newAddress": True}
    assert {e["actor"] for e in entries} == {"staff:ops-console@shop.example"}
    assert TOKEN not in json.dumps(entries) and SECRET not in json.dumps(entries)

    # A secret-only change keeps the stored address; the robot that signs no more is refused by the fake.
    resigned = await api.gql(SET, {"input": {"robot": "DINGTALK", "secret": "SECwrong"}}, headers=ops)
    assert resigned["data"]["setAlertRobot"]["robot"]["host"] == "127.0.0.1"
    refused = (await api.gql(TEST_MESSAGE, {"robot": "DINGTALK"}, headers=ops))["data"]["sendRobotTestMessage"]
    assert refused["delivered"] is False and "310000" in refused["failure"]


def refusal(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(".".join(e["field"]), e["code"]) for e in answer["data"]["setAlertRobot"]["userErrors"]]


async def test_only_the_robots_own_address_is_accepted_and_only_from_admin_or_ops(rt: Runtime, api: Api) -> None:
    tokens = await staff_tokens(rt, ("admin", "cs"))
    admin = bearer(tokens["admin"])

    async def set_robot(**given: Any) -> dict[str, Any]:
        return await api.gql(SET, {"input": given}, headers=admin)

    ding = "oapi.dingtalk.com/robot/send?access_token=abc"
    assert refusal(await set_robot(robot="DINGTALK", webhook=f"http://{ding}")) == [
        ("input.webhook", "WEBHOOK_NOT_HTTPS")
    ]
    wrong_host = await set_robot(robot="DINGTALK", webhook="https://robots.example/robot/send?access_token=abc")
    assert refusal(wrong_host) == [("input.webhook", "WEBHOOK_WRONG_HOST")]
    assert "oapi.dingtalk.com" in wrong_host["data"]["setAlertRobot"]["userErrors"][0]["message"]
    wecom_for_ding = await set_robot(robot="DINGTALK", webhook="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    assert refusal(wecom_for_ding) == [("input.webhook", "WEBHOOK_WRONG_HOST"), ("input.webhook", "INVALID_WEBHOOK")]
    no_token = await set_robot(robot="DINGTALK", webhook="https://oapi.dingtalk.com/robot/send?access_token=")
    assert refusal(no_token) == [("input.webhook", "INVALID_WEBHOOK")]
    local = await set_robot(robot="WECOM", webhook="http://127.0.0.1:8080/cgi-bin/webhook/send?key=k")
    assert refusal(local) == [("input.webhook", "WEBHOOK_NOT_HTTPS"), ("input.webhook", "WEBHOOK_WRONG_HOST")]
    wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    assert refusal(await set_robot(robot="WECOM", webhook=wecom, secret="SEC1")) == [
        ("input.secret", "SECRET_NOT_ACCEPTED")
    ]
    assert refusal(await set_robot(robot="WECOM")) == [("input.webhook", "REQUIRED")]
    assert (await api.gql(ROBOTS, headers=admin))["data"]["alertRobots"][1]["source"] == "NONE"  # nothing stored

    accepted = await set_robot(robot="DINGTALK", webhook=f"https://{ding}", enabled=False)
    assert accepted["data"]["setAlertRobot"]["robot"]["host"] == "oapi.dingtalk.com"

    for query, variables in ((SET, {"input": {"robot": "WECOM", "webhook": wecom}}), (REMOVE, {"robot": "DINGTALK"})):
        denied = await api.gql(query, variables, headers=bearer(tokens["cs"]))
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = kinds((await api.gql(ROBOTS, headers=admin))["data"]["alertRobots"])
    assert listed["DINGTALK"]["source"] == "STORED" and listed["WECOM"]["source"] == "NONE"


async def test_two_staff_saving_the_first_robot_at_once_both_get_an_answer(rt: Runtime, api: Api) -> None:
    """Both saves find no row, and both would insert one: they queue on the row instead, the later one wins, and
    a refused save leaves no row behind."""
    tokens = await staff_tokens(rt, ("admin", "ops"))
    refused = await api.gql(SET, {"input": {"robot": "WECOM", "webhook": "https://robots.example/x"}},
                            headers=bearer(tokens["ops"]))  # fmt: skip
    assert ("input.webhook", "WEBHOOK_WRONG_HOST") in refusal(refused)
    assert (
        kinds((await api.gql(ROBOTS, headers=bearer(tokens["admin"])))["data"]["alertRobots"])["WECOM"]["source"]
        != "STORED"
    )  # the refused save's row was rolled back with it
    webhooks = [f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k{n}" for n in range(2)]
    answers = await asyncio.gather(*(
        api.gql(SET, {"input": {"robot": "WECOM", "webhook": w, "enabled": True}}, headers=bearer(tokens[who]))
        for w, who in zip(webhooks, ("admin", "ops"), strict=True)
    ))  # fmt: skip
    for answer in answers:
        assert "errors" not in answer, answer
        assert answer["data"]["setAlertRobot"]["userErrors"] == []
        assert answer["data"]["setAlertRobot"]["robot"]["source"] == "STORED"
    async with rt.core.sessions() as session:
        assert len((await session.exec(select(StoredRobot))).all()) == 1
