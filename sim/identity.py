"""Traffic that tests buyer identity: one person on several channels with the phone written differently,
repeat taps on "pay" within the merge window, and Douyin buyers known only by a masked phone.

Kept apart from `sim.day` so the day's calibrated distributions stay as they are; the demo pushes this
after the day and reports what identity made of it, scored against the simulator's ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any, Final

from sim.buyers import BuyerBook
from sim.catalog import CATALOG
from sim.channels import DOUYIN, TAOBAO, TMALL, WECHAT_MINI, OrderIdMinter
from sim.day import SimLine, SimOrder

DOMESTIC: Final = (DOUYIN, TAOBAO, TMALL, WECHAT_MINI)
# Receiver district codes (GB/T 2260) a merchant in eastern China sees most.
REGIONS: Final = ("310104", "310115", "310112", "110105", "110108", "330106", "320106", "440305")
REPEAT_TAP_SHARE: Final = 0.3
MASKED_WITH_KNOWN_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class IdentityOrder:
    order: SimOrder
    region: str
    masked: bool
    repeat_tap: bool
    known_later: bool = False  # a masked-phone buyer who also orders with the full number
    tap_burst_start: bool = False

    def as_input(self) -> dict[str, Any]:
        body = self.order.as_input()
        body["buyer"]["receiverRegion"] = self.region
        return body


@dataclass(frozen=True, slots=True)
class IdentityTraffic:
    orders: tuple[IdentityOrder, ...]
    buyers: int  # ground truth: distinct people
    phones: tuple[str, ...]  # every bare number of the run, so a test can prove none is stored

    @property
    def repeat_taps(self) -> int:
        return sum(1 for o in self.orders if o.repeat_tap)

    @property
    def tap_bursts(self) -> int:
        return sum(1 for o in self.orders if o.tap_burst_start)


def _mask(phone: str) -> str:
    return phone[:3] + "****" + phone[7:]


def generate_identity_traffic(seed: int, day: date, buyers: int = 40, masked_buyers: int = 12) -> IdentityTraffic:
    rng = Random(f"orderhub-sim-identity:{seed}:{day.isoformat()}")
    book = BuyerBook(rng)
    minter = OrderIdMinter(rng)
    start = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    products = [p for p in CATALOG if p.price < 20000]
    orders: list[IdentityOrder] = []

    def order(channel: str, phone: str, buyer_id: int, pbid: str, at: datetime, *, paid: bool, basket: Any) -> SimOrder:
        lines = tuple(SimLine(p.sku, p.title, 1, p.price) for p in basket)
        return SimOrder(
            channel=channel,
            channel_order_id=minter.mint(channel, day),
            currency="CNY",
            placed_at=at,
            paid_at=at + timedelta(seconds=rng.randrange(30, 600)) if paid else None,
            cancelled_at=None,
            lines=lines,
            shipping_amount=0,
            discount_amount=0,
            buyer_id=buyer_id,
            buyer_phone=phone,
            platform_buyer_id=pbid,
            warehouse_code="WH-SH-01",
        )

    for _ in range(buyers):
        channels = rng.sample(DOMESTIC, rng.choice((2, 2, 3)))
        buyer = book.enrol(channels)
        region = rng.choice(REGIONS)
        for account in buyer.accounts:
            at = start + timedelta(seconds=rng.randrange(20 * 3600))
            basket = rng.sample(products, rng.choice((1, 1, 2)))
            sim = order(
                account.channel,
                account.phone_as_written,
                buyer.buyer_id,
                account.platform_buyer_id,
                at,
                paid=True,
                basket=basket,
            )
            orders.append(IdentityOrder(sim, region, masked=False, repeat_tap=False))
        if rng.random() < REPEAT_TAP_SHARE:
            account = buyer.accounts[0]
            at = start + timedelta(seconds=rng.randrange(20 * 3600))
            basket = rng.sample(products, 1)
            for tap in range(rng.choice((2, 2, 3))):
                sim = order(
                    account.channel,
                    account.phone_as_written,
                    buyer.buyer_id,
                    account.platform_buyer_id,
                    at + timedelta(seconds=tap * rng.randrange(20, 120)),
                    paid=False,
                    basket=basket,
                )
                orders.append(IdentityOrder(sim, region, masked=False, repeat_tap=tap > 0, tap_burst_start=tap == 0))
    for index in range(masked_buyers):
        known = index < masked_buyers * MASKED_WITH_KNOWN_SHARE
        buyer = book.enrol([DOUYIN, TAOBAO] if known else [DOUYIN])
        region = rng.choice(REGIONS)
        at = start + timedelta(seconds=rng.randrange(20 * 3600))
        douyin = buyer.account(DOUYIN)
        sim = order(
            DOUYIN,
            _mask(buyer.phone),
            buyer.buyer_id,
            douyin.platform_buyer_id,
            at,
            paid=True,
            basket=rng.sample(products, 1),
        )
        orders.append(IdentityOrder(sim, region, masked=True, repeat_tap=False, known_later=known))
        if known:
            taobao = buyer.account(TAOBAO)
            later = at + timedelta(hours=rng.randrange(1, 4))
            sim = order(
                TAOBAO,
                taobao.phone_as_written,
                buyer.buyer_id,
                taobao.platform_buyer_id,
                later,
                paid=True,
                basket=rng.sample(products, 1),
            )
            orders.append(IdentityOrder(sim, region, masked=False, repeat_tap=False))
    orders.sort(key=lambda o: (o.order.placed_at, o.order.channel, o.order.channel_order_id))
    return IdentityTraffic(tuple(orders), len(book.buyers), tuple(b.phone for b in book.buyers))
