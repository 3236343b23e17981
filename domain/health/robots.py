"""The group-chat robots that carry alerts: which one sends, how staff see it, what address the console accepts
for one, and the test message that proves one still reaches its group.

A robot's webhook address holds its credential (DingTalk's access_token, WeCom's key), so only its host is ever
shown. A robot set from the console (domain/health/robot_store.py) wins over the environment's robot of its kind
(ORDERHUB_DINGTALK_WEBHOOK, _SECRET, ORDERHUB_WECOM_WEBHOOK), which stays the fallback: a deployment configured
before the console could set robots keeps alerting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from domain.errors import Problems, UserError
from domain.health.errors import HealthErrorCode
from domain.i18n import Message, msg
from domain.settings import Settings


class RobotKind(StrEnum):
    DINGTALK = "DINGTALK"
    WECOM = "WECOM"


class RobotSource(StrEnum):
    STORED = "STORED"
    ENVIRONMENT = "ENVIRONMENT"
    NONE = "NONE"


@dataclass(frozen=True)
class RobotAddress:
    """Where a robot is reached and what it signs with: a credential, never shown, logged or stored in the clear."""

    webhook: str
    secret: str | None = None

    def __repr__(self) -> str:
        return f"RobotAddress(host={self.host!r}, signed={self.secret is not None})"

    @property
    def host(self) -> str | None:
        return urlsplit(self.webhook).hostname


@dataclass(frozen=True)
class RobotConfig:
    """The robot of a kind in force: the stored one, else the environment's, else none."""

    kind: RobotKind
    source: RobotSource
    address: RobotAddress | None
    enabled: bool = True
    set_by: str | None = None
    set_at: datetime | None = None


@dataclass(frozen=True)
class RobotView:
    kind: RobotKind
    configured: bool
    host: str | None
    signed: bool
    source: RobotSource
    enabled: bool
    set_by: str | None
    set_at: datetime | None

    @classmethod
    def of(cls, config: RobotConfig) -> RobotView:
        address = config.address
        return cls(
            kind=config.kind, configured=address is not None, host=None if address is None else address.host,
            signed=address is not None and address.secret is not None, source=config.source,
            enabled=config.enabled, set_by=config.set_by, set_at=config.set_at,
        )  # fmt: skip


def environment_config(settings: Settings, kind: RobotKind) -> RobotConfig:
    webhook = settings.dingtalk_webhook if kind is RobotKind.DINGTALK else settings.wecom_webhook
    if not webhook:
        return RobotConfig(kind, RobotSource.NONE, None)
    secret = settings.dingtalk_secret if kind is RobotKind.DINGTALK else None
    return RobotConfig(
        kind, RobotSource.ENVIRONMENT, RobotAddress(webhook, None if secret is None else secret.get_secret_value())
    )


def require_configured(config: RobotConfig) -> RobotAddress:
    """A robot switched off may still be tested: that is how one checks an address before switching it on."""
    if config.address is None:
        raise UserError.one(
            ("robot",),
            msg("No {robot} robot is configured: set its webhook first.", robot=config.kind.value),
            HealthErrorCode.ROBOT_NOT_CONFIGURED,
        )
    return config.address


@dataclass(frozen=True)
class RobotHome:
    """Where a kind of robot really lives, and the query parameter that carries its credential."""

    host: str
    path: str
    token: str

    def example(self) -> str:
        return f"https://{self.host}{self.path}?{self.token}=…"


HOMES = {
    RobotKind.DINGTALK: RobotHome("oapi.dingtalk.com", "/robot/send", "access_token"),
    RobotKind.WECOM: RobotHome("qyapi.weixin.qq.com", "/cgi-bin/webhook/send", "key"),
}
WEBHOOK_LENGTH = 2000
SECRET_LENGTH = 200


def check_webhook(problems: Problems, kind: RobotKind, webhook: str, extra_hosts: Sequence[str]) -> None:
    """An address anyone could type would make orderhub post alerts (and DingTalk signatures) wherever it points:
    only the robot's own host, over https, unless the host is one ORDERHUB_ALERT_ROBOT_EXTRA_HOSTS names."""
    at, home = ("webhook",), HOMES[kind]
    try:
        parts = urlsplit(webhook)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        problems.add(at, msg("not a web address: expected {example}", example=home.example()),
                     HealthErrorCode.INVALID_WEBHOOK)  # fmt: skip
        return
    host = (parts.hostname or "").lower()
    allowed = {h.strip().lower() for h in extra_hosts}
    extra = host in allowed or parts.netloc.lower() in allowed
    if parts.scheme != "https" and not (extra and parts.scheme == "http"):
        problems.add(at, msg("must be an https address"), HealthErrorCode.WEBHOOK_NOT_HTTPS)
    if host != home.host and not extra:
        problems.add(
            at,
            msg("a {robot} robot's address is on {host}", robot=kind.value, host=home.host),
            HealthErrorCode.WEBHOOK_WRONG_HOST,
        )
    token = parse_qs(parts.query).get(home.token, [""])[0].strip()
    if parts.path != home.path or not token:
        problems.add(at, msg("expected {example}", example=home.example()), HealthErrorCode.INVALID_WEBHOOK)


def test_message(by: str) -> tuple[Message, Message]:
    """The title and markdown of a test message, rendered later in the merchant's language: the group reads it."""
    return (
        msg("orderhub test message"),
        msg("{by} sent this test message from the orderhub console: alerts reach this group. Nothing needs doing.",
            by=by),
    )  # fmt: skip
