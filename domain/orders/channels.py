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
