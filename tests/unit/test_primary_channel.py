"""The primary channel: the largest first order, then the earliest; fen and cents never compared."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.identity.models import BuyerChannel
from domain.identity.queries import primary_of


def link(channel: str, amount: int, hour: int, currency: str = "CNY") -> BuyerChannel:
    return BuyerChannel(
        uid="u",
        key_version=1,
        channel=channel,
        first_order_id=1,
        first_order_at=datetime(2026, 11, 24, hour, tzinfo=UTC),
        first_order_amount=amount,
        currency=currency,
    )


def test_largest_first_order_wins() -> None:
    assert primary_of([link("TAOBAO", 9590, 1), link("DOUYIN", 20000, 3)]).channel == "DOUYIN"  # type: ignore[union-attr]


def test_a_tie_goes_to_the_earliest() -> None:
    chosen = primary_of([link("WECHAT_MINI", 20000, 4), link("DOUYIN", 20000, 3), link("TAOBAO", 100, 1)])
    assert chosen is not None and chosen.channel == "DOUYIN"


def test_cents_are_not_compared_with_fen() -> None:
    chosen = primary_of([link("AMAZON", 990000, 1, "USD"), link("TAOBAO", 9590, 2), link("DOUYIN", 500, 3)])
    assert chosen is not None and chosen.channel == "TAOBAO"
    only = primary_of([link("AMAZON", 990, 1, "USD")])
    assert only is not None and only.channel == "AMAZON"


def test_no_links_no_primary() -> None:
    assert primary_of([]) is None
