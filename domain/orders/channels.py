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


def attribution_sql(order: str = "o") -> str:
    """True when the order's channel is known and the utm_source it came with is one that channel's traffic carries;
    `order` is the orders table's alias, or "" for the bare columns an index predicate names."""

    def column(name: str) -> str:
        return f"{order}.{name}" if order else name

    pairs = " OR ".join(
        f"({column('channel')} = '{channel.value}' AND {column('utm_source')} IN "
        f"({', '.join(repr(s) for s in sorted(sources))}))"
        for channel, sources in CHANNEL_SOURCES.items()
    )
    return f"({column('utm_source')} IS NOT NULL AND ({pairs}))"  # never NULL, so NOT picks the mis-attributed
