"""The sales channels orderhub knows."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    DOUYIN = "DOUYIN"
    TAOBAO = "TAOBAO"
    TMALL = "TMALL"
    WECHAT_MINI = "WECHAT_MINI"
    WECHAT_CHANNELS = "WECHAT_CHANNELS"
    AMAZON = "AMAZON"


def parse_channel(name: str) -> Channel | None:
    try:
        return Channel(name.strip().upper())
    except ValueError:
        return None


CHANNEL_SOURCES: dict[Channel, frozenset[str]] = {
    Channel.DOUYIN: frozenset({"douyin"}),
    Channel.TAOBAO: frozenset({"taobao"}),
    Channel.TMALL: frozenset({"tmall"}),
    Channel.WECHAT_MINI: frozenset({"wechat_mini", "wechat"}),
    Channel.WECHAT_CHANNELS: frozenset({"wechat_channels", "channels"}),
    Channel.AMAZON: frozenset({"amazon"}),
}
"""The utm_source values (lower-cased) that each channel's traffic carries; any other, or none, is a
mis-attributed order."""
