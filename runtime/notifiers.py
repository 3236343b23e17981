"""Group-chat robots that carry operational alerts to people: DingTalk custom robots and WeCom group robots.

Each robot sends one markdown message per call; callers batch what they have into that message,
so a storm of events becomes one message per window rather than a flood.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

import httpx

from domain.health.robots import RobotKind, require_configured, test_message
from domain.i18n import render, use_language
from domain.settings import Settings


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
    webhook: str
    secret: str | None = None
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
    webhook: str
    name: str = "wecom"

    async def send(self, client: httpx.AsyncClient, title: str, markdown: str) -> None:
        # WeCom markdown has no title field and caps content at 4096 bytes.
        content = f"**{title}**\n{markdown}".encode()[:4000].decode(errors="ignore")
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        _check(await client.post(self.webhook, json=body), self.name)


def robots_from_settings(settings: Settings) -> list[Robot]:
    robots: list[Robot] = []
    if settings.dingtalk_webhook:
        secret = settings.dingtalk_secret.get_secret_value() if settings.dingtalk_secret else None
        robots.append(DingTalkRobot(settings.dingtalk_webhook, secret))
    if settings.wecom_webhook:
        robots.append(WeComRobot(settings.wecom_webhook))
    return robots


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


async def probe_robots(settings: Settings, seconds: float = 3.0) -> list[tuple[str, str | None]]:
    """One real message through each configured robot: reachability, the token and the signature, all at once.

    An empty list means no robot is configured, which the self-check reports as a failure of its own.
    """
    results: list[tuple[str, str | None]] = []
    async with httpx.AsyncClient(timeout=seconds) as client:
        for robot in robots_from_settings(settings):
            try:
                await robot.send(client, PROBE_TITLE, PROBE_TEXT)
            except (NotifyFailed, httpx.HTTPError, ValueError) as exc:
                results.append((robot.name, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
            else:
                results.append((robot.name, None))
    return results


async def send_test_message(settings: Settings, kind: RobotKind, by: str, seconds: float = 5.0) -> str | None:
    """Sends one test message through the configured robot; the failure as text, or None when the robot took it.

    The group reads it, so it speaks the merchant's language, whoever pressed the button."""
    require_configured(settings, kind)
    robot = next(r for r in robots_from_settings(settings) if r.name == kind.value.lower())
    title, text = test_message(by)
    with use_language(settings.merchant_language):
        rendered_title, rendered_text = render(title), render(text)
    async with httpx.AsyncClient(timeout=seconds) as client:
        try:
            await robot.send(client, rendered_title, rendered_text)
        except (NotifyFailed, httpx.HTTPError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None
