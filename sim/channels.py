"""What each sales channel looks like from the outside: its share of trade, its currency and its order-id shape.

Ids follow each platform's real format because bridges and dashboards parse, sort and truncate them; a
simulator that emitted "order-1" would hide every bug that a 19-digit string or a dashed Amazon id exposes.
"""

from __future__ import annotations

from datetime import date
from random import Random
from typing import Final

DOUYIN: Final = "DOUYIN"
TAOBAO: Final = "TAOBAO"
TMALL: Final = "TMALL"
WECHAT_MINI: Final = "WECHAT_MINI"
AMAZON: Final = "AMAZON"

# Shares in percent of orders; a typical domestic-first merchant with a small cross-border Amazon store.
CHANNEL_SHARES: Final[dict[str, int]] = {
    DOUYIN: 35,
    TAOBAO: 30,
    TMALL: 10,
    WECHAT_MINI: 15,
    AMAZON: 10,
}
CHANNELS: Final[tuple[str, ...]] = tuple(CHANNEL_SHARES)

CURRENCIES: Final[dict[str, str]] = {channel: "CNY" for channel in CHANNELS} | {AMAZON: "USD"}

# Taobao and Tmall draw trade ids from one Alibaba sequence, so a tid is unique across both, not per channel.
_ID_SPACE: Final[dict[str, str]] = {channel: channel for channel in CHANNELS} | {TMALL: TAOBAO}

_AMAZON_PREFIXES: Final = ("111", "112", "113", "114", "701", "702")


def _digits(rng: Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def _draw_order_id(channel: str, rng: Random, local_day: date) -> str:
    if channel in (TAOBAO, TMALL):
        return rng.choice("1234") + _digits(rng, 18)
    if channel == DOUYIN:
        return rng.choice("456") + _digits(rng, 18)
    if channel == WECHAT_MINI:
        return f"WX{local_day:%Y%m%d}{_digits(rng, 10)}"
    if channel == AMAZON:
        return f"{rng.choice(_AMAZON_PREFIXES)}-{_digits(rng, 7)}-{_digits(rng, 7)}"
    raise ValueError(f"unknown channel {channel!r}")


class OrderIdMinter:
    """Draws random-looking ids yet never repeats one, because a repeat would read as a resubmission."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._used: set[tuple[str, str]] = set()

    def mint(self, channel: str, local_day: date) -> str:
        while True:
            order_id = _draw_order_id(channel, self._rng, local_day)
            key = (_ID_SPACE[channel], order_id)
            if key not in self._used:
                self._used.add(key)
                return order_id
