"""Buyers as each channel sees them: one real person, a different platform id and a differently written phone.

Cross-channel identity rests on the phone number alone, so the simulator writes the same number the ways
channels really deliver it (spaced with +86, dashed, 0086-prefixed, full-width) while keeping every
variant a valid mainland mobile number; anything else would test the normaliser against noise, not reality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from random import Random
from typing import Final

from sim.channels import AMAZON, CHANNELS, DOUYIN, TAOBAO, TMALL, WECHAT_MINI
from sim.weighted import Weighted

# Mobile prefixes by carrier, weighted roughly by subscriber share (China Mobile ~60%, Telecom ~21%,
# Unicom ~19%), so the number mix resembles a real customer list rather than a uniform spread.
_CHINA_MOBILE: Final = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
                        "182", "183", "184", "187", "188")  # fmt: skip
_CHINA_UNICOM: Final = ("130", "131", "132", "155", "156", "166", "185", "186")
_CHINA_TELECOM: Final = ("133", "153", "177", "180", "181", "189", "199")
MOBILE_PREFIXES: Final[tuple[str, ...]] = _CHINA_MOBILE + _CHINA_UNICOM + _CHINA_TELECOM
_PREFIXES: Final = Weighted(
    [(p, 6) for p in _CHINA_MOBILE] + [(p, 4) for p in _CHINA_UNICOM] + [(p, 5) for p in _CHINA_TELECOM]
)

PLAIN: Final = "plain"  # 13812345678
SPACED_INTL: Final = "spaced_intl"  # +86 138 1234 5678
DASHED: Final = "dashed"  # 138-1234-5678
INTL_0086: Final = "intl_0086"  # 0086 13812345678
FULL_WIDTH: Final = "full_width"  # 13812345678 in full-width digits (U+FF10..U+FF19), as typed on a Chinese IME
PHONE_STYLES: Final[tuple[str, ...]] = (PLAIN, SPACED_INTL, DASHED, INTL_0086, FULL_WIDTH)

# How often each channel hands over a number in each style. Domestic marketplaces mostly pass the plain
# number their own form validated; full-width digits come from buyers typing on Chinese IMEs; WeChat and
# the cross-border Amazon store see international forms.
_STYLE_WEIGHTS: Final[dict[str, tuple[int, int, int, int, int]]] = {
    DOUYIN: (70, 20, 0, 0, 10),
    TAOBAO: (80, 4, 10, 0, 6),
    TMALL: (90, 0, 6, 0, 4),
    WECHAT_MINI: (55, 30, 5, 10, 0),
    AMAZON: (10, 45, 10, 35, 0),
}
_STYLES: Final = {
    channel: Weighted(zip(PHONE_STYLES, weights, strict=True)) for channel, weights in _STYLE_WEIGHTS.items()
}

_FULL_WIDTH_DIGITS: Final = {ord("0") + d: 0xFF10 + d for d in range(10)}


def _byte_table(alphabet: str) -> bytes:
    # Random bytes translated through this table are an id in one C call; the modulo bias towards the
    # first letters of a 62- or 36-letter alphabet is invisible in an id that only has to look right.
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


_BASE64URL: Final = _byte_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_ALNUM: Final = _byte_table("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_UPPER_ALNUM: Final = _byte_table("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@dataclass(frozen=True, slots=True)
class Account:
    """A buyer's presence on one channel; the phone style belongs here because people reuse saved addresses."""

    channel: str
    platform_buyer_id: str
    phone_as_written: str


@dataclass(frozen=True, slots=True)
class Buyer:
    buyer_id: int
    phone: str  # the bare 11-digit number, the ground truth every written form must normalise back to
    accounts: tuple[Account, ...]

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(account.channel for account in self.accounts)

    def account(self, channel: str) -> Account:
        for account in self.accounts:
            if account.channel == channel:
                return account
        raise KeyError(f"buyer {self.buyer_id} has no {channel} account")


def write_phone(phone: str, style: str) -> str:
    """Render a bare 11-digit mobile number the way one channel might deliver it."""
    if style == PLAIN:
        return phone
    if style == SPACED_INTL:
        return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    if style == DASHED:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    if style == INTL_0086:
        return f"0086 {phone}"
    if style == FULL_WIDTH:
        return phone.translate(_FULL_WIDTH_DIGITS)
    raise ValueError(f"unknown phone style {style!r}")


def _random_text(rng: Random, table: bytes, length: int) -> str:
    return rng.randbytes(length).translate(table).decode("ascii")


def platform_buyer_id(channel: str, rng: Random) -> str:
    """An id in the channel's own shape; each platform scopes ids to the app, so none match across channels."""
    if channel in (TAOBAO, TMALL):
        return "AAH" + _random_text(rng, _BASE64URL, 21)  # buyer_open_uid
    if channel == DOUYIN:
        return "_000" + _random_text(rng, _ALNUM, 32)  # open_id
    if channel == WECHAT_MINI:
        return "o" + _random_text(rng, _BASE64URL, 27)  # openid
    if channel == AMAZON:
        return "A" + _random_text(rng, _UPPER_ALNUM, 13)  # customer id
    raise ValueError(f"unknown channel {channel!r}")


class BuyerBook:
    """Hands out buyers with distinct numbers; two buyers sharing a phone would be one buyer to the backend."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._phones: set[str] = set()
        self.buyers: list[Buyer] = []

    def _new_phone(self) -> str:
        rng = self._rng
        while True:
            prefix = _PREFIXES.pick(rng)
            phone = f"{prefix}{rng.randrange(10**8):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def enrol(self, channels: Sequence[str]) -> Buyer:
        rng = self._rng
        phone = self._new_phone()
        accounts = []
        for channel in channels:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}")
            style = _STYLES[channel].pick(rng)
            accounts.append(Account(channel, platform_buyer_id(channel, rng), write_phone(phone, style)))
        buyer = Buyer(len(self.buyers) + 1, phone, tuple(accounts))
        self.buyers.append(buyer)
        return buyer
