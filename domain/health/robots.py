"""The group-chat robots that carry alerts, as staff see them, and the test message that proves one still reaches
its group.

A robot's webhook address holds its credential (DingTalk's access_token, WeCom's key), so only the host is ever
shown. The robots themselves are configured in the environment (ORDERHUB_DINGTALK_WEBHOOK, _SECRET,
ORDERHUB_WECOM_WEBHOOK): the console tests them, it does not store them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from domain.errors import UserError
from domain.health.errors import HealthErrorCode
from domain.i18n import Message, msg
from domain.settings import Settings


class RobotKind(StrEnum):
    DINGTALK = "DINGTALK"
    WECOM = "WECOM"


@dataclass(frozen=True)
class RobotView:
    kind: RobotKind
    configured: bool
    host: str | None
    signed: bool


def _webhook(settings: Settings, kind: RobotKind) -> str | None:
    return settings.dingtalk_webhook if kind is RobotKind.DINGTALK else settings.wecom_webhook


def robot_views(settings: Settings) -> list[RobotView]:
    """Both robots, configured or not, so the console can say which one is missing."""
    views = []
    for kind in RobotKind:
        webhook = _webhook(settings, kind)
        views.append(
            RobotView(
                kind=kind,
                configured=bool(webhook),
                host=urlsplit(webhook).hostname if webhook else None,
                signed=kind is RobotKind.DINGTALK and settings.dingtalk_secret is not None,
            )
        )
    return views


def require_configured(settings: Settings, kind: RobotKind) -> RobotView:
    view = next(v for v in robot_views(settings) if v.kind is kind)
    if not view.configured:
        raise UserError.one(
            ("robot",),
            msg("No {robot} robot is configured: set its webhook in the environment first.", robot=kind.value),
            HealthErrorCode.ROBOT_NOT_CONFIGURED,
        )
    return view


def test_message(by: str) -> tuple[Message, Message]:
    """The title and markdown of a test message, rendered later in the merchant's language: the group reads it."""
    return (
        msg("orderhub test message"),
        msg("{by} sent this test message from the orderhub console: alerts reach this group. Nothing needs doing.",
            by=by),
    )  # fmt: skip
