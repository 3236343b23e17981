"""Group-chat robots that carry operational alerts to people: DingTalk custom robots and WeCom group robots.

Each robot sends one markdown message per call; callers batch what they have into that message,
so a storm of events becomes one message per window rather than a flood. Every alert path takes its robots from
`alert_robots`: those set from the console, else the environment's, read when the alert leaves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.health.robot_store import robot_config, robot_configs
from domain.health.robots import RobotAddress, RobotConfig, RobotKind, RobotView, require_configured, test_message
from domain.i18n import render, use_language
from runtime.core import Core


class NotifyFailed(Exception):
    pass


class Robot(Protocol):
    @property
    def name(self) -> str: ...

    async def send(self, client: httpx.AsyncClient, title: str, markdown: str) -> None: ...


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's scheme: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")); httpx URL-encodes it."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _check(response: httpx.Response, robot: str) -> None:
    if response.status_code != 200:
        raise NotifyFailed(f"{robot}: HTTP {response.status_code}")
    body = response.json()
    if body.get("errcode") != 0:
        raise NotifyFailed(f"{robot}: errcode {body.get('errcode')} {body.get('errmsg')}")


@dataclass(frozen=True)
class DingTalkRobot:
    webhook: str = field(repr=False)  # holds the access token
    secret: str | None = field(default=None, repr=False)
    name: str = "dingtalk"

    async def send(self, client: httpx.AsyncClient, title: str, markdown: str) -> None:
        params: dict[str, str] = {}
        if self.secret:
            timestamp = int(time.time() * 1000)
            params = {"timestamp": str(timestamp), "sign": dingtalk_sign(self.secret, timestamp)}
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
        _check(await client.post(self.webhook, params=params, json=body), self.name)


@dataclass(frozen=True)
class WeComRobot:
    webhook: str = field(repr=False)  # holds the key
    name: str = "wecom"

    async def send(self, client: httpx.AsyncClient, title: str, markdown: str) -> None:
        # WeCom markdown has no title field and caps content at 4096 bytes.
        content = f"**{title}**\n{markdown}".encode()[:4000].decode(errors="ignore")
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        _check(await client.post(self.webhook, json=body), self.name)


def robot_at(kind: RobotKind, address: RobotAddress) -> Robot:
    return DingTalkRobot(address.webhook, address.secret) if kind is RobotKind.DINGTALK else WeComRobot(address.webhook)


def robots_of(configs: Sequence[RobotConfig]) -> list[Robot]:
    """The robots alerts go through: those with an address, switched on."""
    return [robot_at(c.kind, c.address) for c in configs if c.enabled and c.address is not None]


async def alert_robots(core: Core, session: AsyncSession | None = None) -> list[Robot]:
    """The robots every alert goes through, read now, so that a change on the console reaches the next alert in
    every process. A caller inside a unit of work passes its session; others read through the core's."""
    if session is None:
        async with core.sessions() as own:
            return await alert_robots(core, own)
    return robots_of(await robot_configs(session, core.vault, core.settings))


async def broadcast(robots: list[Robot], title: str, markdown: str, seconds: float = 10.0) -> list[str]:
    """Sends to every robot; returns the failures rather than stopping at the first."""
    failures = []
    async with httpx.AsyncClient(timeout=seconds) as client:
        for robot in robots:
            try:
                await robot.send(client, title, markdown)
            except (NotifyFailed, httpx.HTTPError, ValueError) as exc:
                failures.append(f"{robot.name}: {exc}")
    return failures


PROBE_TITLE = "orderhub self-check"
PROBE_TEXT = "orderhub's self-check is making sure alerts reach this group. Nothing needs doing."


async def probe_robots(robots: Sequence[Robot], seconds: float = 3.0) -> list[tuple[str, str | None]]:
    """One real message through each robot (`alert_robots`): reachability, the token and the signature at once.

    An empty list means no robot is configured, which the self-check reports as a failure of its own.
    """
    results: list[tuple[str, str | None]] = []
    async with httpx.AsyncClient(timeout=seconds) as client:
        for robot in robots:
            try:
                await robot.send(client, PROBE_TITLE, PROBE_TEXT)
            except (NotifyFailed, httpx.HTTPError, ValueError) as exc:
                results.append((robot.name, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
            else:
                results.append((robot.name, None))
    return results


async def send_test_message(core: Core, kind: RobotKind, by: str, seconds: float = 5.0) -> tuple[RobotView, str | None]:
    """Sends one test message through the robot of `kind` in force, switched on or not (one tests an address
    before switching it on); returns the robot and the failure as text, or None when the robot took it.

    The group reads it, so it speaks the merchant's language, whoever pressed the button."""
    async with core.sessions() as session:
        config = await robot_config(session, core.vault, core.settings, kind)
    robot = robot_at(kind, require_configured(config))
    title, text = test_message(by)
    with use_language(core.settings.merchant_language):
        rendered_title, rendered_text = render(title), render(text)
    async with httpx.AsyncClient(timeout=seconds) as client:
        try:
            await robot.send(client, rendered_title, rendered_text)
        except (NotifyFailed, httpx.HTTPError, ValueError) as exc:
            return RobotView.of(config), f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return RobotView.of(config), None
