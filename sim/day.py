"""One simulated trading day: who orders what, on which channel, when, and whether they pay.

Everything is drawn from a single `random.Random` seeded by (seed, day), so a failing test or a benchmark
regression can be replayed exactly; the distributions are tuned to look like a real Chinese multi-channel
merchant because load shape (the evening peak), basket mix and payment lag are what the backend is built for.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any, Final
from zoneinfo import ZoneInfo

from sim.buyers import Buyer, BuyerBook
from sim.catalog import CATALOG, WAREHOUSE_WEIGHTS, WAREHOUSES, Product
from sim.channels import AMAZON, CHANNEL_SHARES, CHANNELS, CURRENCIES, OrderIdMinter
from sim.money import decimal_text, in_currency
from sim.weighted import Weighted

PAID: Final = "PAID"
PENDING_PAYMENT: Final = "PENDING_PAYMENT"
CANCELLED: Final = "CANCELLED"
STATUSES: Final[tuple[str, ...]] = (PAID, PENDING_PAYMENT, CANCELLED)

# Relative order volume per local hour: asleep 2-7h, a morning climb, a lunch-break peak, a flat afternoon
# and the live-stream evening peak at 20-23h that sizes every capacity plan.
HOURLY_WEIGHTS: Final[tuple[int, ...]] = (
    40, 22, 12, 7, 5, 5, 8, 15,  # 00-07
    25, 38, 48, 52, 62, 60, 46, 45,  # 08-15
    46, 48, 52, 60, 78, 88, 86, 64,  # 16-23
)  # fmt: skip

# Lines per order: 60% one, 25% two, 10% three, and the last 5% spread over four to six.
_BASKET_SIZE: Final = Weighted([(1, 1200), (2, 500), (3, 200), (4, 50), (5, 30), (6, 20)])
_QUANTITY: Final = Weighted([(1, 85), (2, 11), (3, 4)])
# Orders one buyer places in a day; the repeat buyers are the ones that exercise identity merging.
_ORDERS_PER_BUYER: Final = Weighted([(1, 800), (2, 140), (3, 40), (4, 15), (5, 5)])
# Of buyers with more than one order, the share who use more than one channel. Stated over repeat buyers
# because a one-order buyer cannot show it, so this is the share a test can actually observe.
MULTI_CHANNEL_SHARE: Final = 0.08

FREE_SHIPPING_FROM: Final = 9900  # fen of items ("满99包邮")
SHIPPING_FEE: Final = 800  # fen
COUPON_SHARE: Final = 0.30
_COUPON_WEIGHTS: Final = {500: 50, 1000: 35, 2000: 15}  # fen: weight

PAID_SHARE: Final = 0.88
PENDING_SHARE: Final = 0.07  # the rest, 5%, cancel unpaid
_PAY_DELAY: Final = (30, 1200)  # seconds; log-uniform, because most buyers pay at once and a few dither
_CANCEL_DELAY: Final = (300, 3600)  # seconds

_CHANNEL: Final = Weighted(CHANNEL_SHARES.items())
_PRODUCT: Final = Weighted((product, product.popularity) for product in CATALOG)
_WAREHOUSE: Final = Weighted(zip(WAREHOUSES, WAREHOUSE_WEIGHTS, strict=True))
_EVENT_RANK: Final = {"placed": 0, "paid": 1, "cancelled": 1}


@dataclass(frozen=True, slots=True)
class SimLine:
    sku: str
    title: str
    quantity: int
    unit_price: int  # minor units of the order's currency

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class SimOrder:
    channel: str
    channel_order_id: str
    currency: str
    placed_at: datetime  # UTC
    paid_at: datetime | None
    cancelled_at: datetime | None
    lines: tuple[SimLine, ...]
    shipping_amount: int
    discount_amount: int
    buyer_id: int  # the simulator's ground truth; a channel never sends it, so tests can score identity merging
    buyer_phone: str  # as written on this channel
    platform_buyer_id: str
    warehouse_code: str

    @property
    def items_amount(self) -> int:
        return sum(line.quantity * line.unit_price for line in self.lines)

    @property
    def total_amount(self) -> int:
        return self.items_amount + self.shipping_amount - self.discount_amount

    @property
    def final_status(self) -> str:
        if self.paid_at is not None:
            return PAID
        if self.cancelled_at is not None:
            return CANCELLED
        return PENDING_PAYMENT

    def as_input(self, status: str | None = None) -> dict[str, Any]:
        """The GraphQL `OrderInput` a bridge would send, as JSON-ready camelCase.

        `status` picks the moment: None or the final status gives the order as it ended up,
        PENDING_PAYMENT gives it as first placed. Any other status is one this order never had,
        so it is refused rather than invented.
        """
        final = self.final_status
        if status is None:
            status = final
        if status not in (final, PENDING_PAYMENT):
            raise ValueError(f"order {self.channel_order_id} never reached {status} (it ends {final})")
        body: dict[str, Any] = {
            "channel": self.channel,
            "channelOrderId": self.channel_order_id,
            "currencyCode": self.currency,
            "placedAt": self.placed_at.isoformat(),
            "status": status,
        }
        if status == PAID and self.paid_at is not None:
            body["paidAt"] = self.paid_at.isoformat()
        if status == CANCELLED and self.cancelled_at is not None:
            body["cancelledAt"] = self.cancelled_at.isoformat()
        body["lines"] = [
            {"sku": x.sku, "title": x.title, "quantity": x.quantity, "unitPrice": decimal_text(x.unit_price)}
            for x in self.lines
        ]
        body["shippingAmount"] = decimal_text(self.shipping_amount)
        body["discountAmount"] = decimal_text(self.discount_amount)
        body["totalAmount"] = decimal_text(self.total_amount)
        body["buyer"] = {"phone": self.buyer_phone, "platformBuyerId": self.platform_buyer_id}
        body["warehouseCode"] = self.warehouse_code
        return body


@dataclass(frozen=True, slots=True)
class SimDay:
    day: date
    seed: int
    orders: tuple[SimOrder, ...]  # sorted by placed_at

    def events(self) -> list[tuple[datetime, str, SimOrder]]:
        """The stream a channel bridge would push, so replay tests see payments interleave with new orders."""
        stream: list[tuple[datetime, str, SimOrder]] = []
        with _collector_paused():
            for order in self.orders:
                stream.append((order.placed_at, "placed", order))
                if order.paid_at is not None:
                    stream.append((order.paid_at, "paid", order))
                elif order.cancelled_at is not None:
                    stream.append((order.cancelled_at, "cancelled", order))
            # Ties on the second are common at volume; break them by kind and id so the stream stays deterministic.
            stream.sort(key=lambda e: (e[0], _EVENT_RANK[e[1]], e[2].channel, e[2].channel_order_id))
        return stream

    def counts(self) -> dict[str, int]:
        """Ground truth per channel and final status; every key is present, zero or not, so tests can index it."""
        tally = Counter(f"channel:{order.channel}" for order in self.orders)
        tally.update(f"status:{order.final_status}" for order in self.orders)
        keys = [f"channel:{c}" for c in CHANNELS] + [f"status:{s}" for s in STATUSES]
        return {key: tally[key] for key in keys}


def _local_hours(day: date, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """Each local wall-clock hour as (UTC start, length in seconds).

    Lengths come from the zone, not a constant 3600, so a DST day's skipped hour gets no orders and its
    repeated hour gets twice the time; for Asia/Shanghai every hour is simply 3600 s.
    """
    after = day + timedelta(days=1)
    bounds = [datetime(day.year, day.month, day.day, hour, tzinfo=zone) for hour in range(24)]
    bounds.append(datetime(after.year, after.month, after.day, tzinfo=zone))
    utc = [moment.astimezone(UTC) for moment in bounds]
    return [(utc[h], int((utc[h + 1] - utc[h]).total_seconds())) for h in range(24)]


def _plan(rng: Random, orders: int, book: BuyerBook) -> list[tuple[Buyer, str]]:
    """Decide each order's buyer and channel before anything else, so repeat and cross-channel buyers are exact."""
    plan: list[tuple[Buyer, str]] = []
    while len(plan) < orders:
        count = min(_ORDERS_PER_BUYER.pick(rng), orders - len(plan))
        channels = [_CHANNEL.pick(rng)]
        if count > 1 and rng.random() < MULTI_CHANNEL_SHARE:
            wanted = 3 if count > 2 and rng.random() < 0.2 else 2
            while len(channels) < wanted:
                extra = _CHANNEL.pick(rng)
                if extra not in channels:
                    channels.append(extra)
        buyer = book.enrol(channels)
        # Every channel of a multi-channel buyer gets at least one order, or the buyer would not really be one.
        picks = channels + rng.choices(channels, k=count - len(channels))
        rng.shuffle(picks)
        plan.extend((buyer, channel) for channel in picks)
    return plan


def _basket(rng: Random) -> list[Product]:
    size = _BASKET_SIZE.pick(rng)
    chosen: list[Product] = []
    while len(chosen) < size:
        product = _PRODUCT.pick(rng)
        if product not in chosen:
            chosen.append(product)
    return chosen


class _Pricing:
    """Catalog money in one currency, converted once per day rather than once per line."""

    def __init__(self, currency: str) -> None:
        self.prices = {product.sku: in_currency(product.price, currency) for product in CATALOG}
        self.free_from = in_currency(FREE_SHIPPING_FROM, currency)
        self.fee = in_currency(SHIPPING_FEE, currency)
        self.coupons = [(in_currency(fen, currency), weight) for fen, weight in _COUPON_WEIGHTS.items()]

    def coupon(self, rng: Random, items: int) -> int:
        # A coupon worth more than the goods would make the total negative, which no platform issues.
        fitting = [(value, weight) for value, weight in self.coupons if value <= items]
        return Weighted(fitting).pick(rng) if fitting else 0


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a day is built.

    A day is hundreds of thousands of small acyclic objects; left on, the collector rescans the growing
    heap for cycles that cannot exist and more than doubles the run time of a 100,000-order day.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_day(seed: int, day: date, orders: int, tz: str = "Asia/Shanghai") -> SimDay:
    """Simulate `orders` orders placed during local `day` in `tz`; the same arguments always give the same day."""
    if orders < 0:
        raise ValueError("orders must not be negative")
    zone = ZoneInfo(tz)
    with _collector_paused():
        return _generate(seed, day, orders, zone)


def _generate(seed: int, day: date, orders: int, zone: ZoneInfo) -> SimDay:
    # A string seed hashes with SHA-512 in `random`, independent of PYTHONHASHSEED, so it is stable across runs.
    rng = Random(f"orderhub-sim:{seed}:{day.isoformat()}")
    hours = _local_hours(day, zone)
    starts = rng.choices(hours, weights=[HOURLY_WEIGHTS[h] * seconds for h, (_, seconds) in enumerate(hours)], k=orders)
    plan = _plan(rng, orders, BuyerBook(rng))
    minter = OrderIdMinter(rng)
    pricing = {currency: _Pricing(currency) for currency in sorted(set(CURRENCIES.values()))}
    pay_low, pay_high = _PAY_DELAY
    pay_spread = pay_high / pay_low
    random, randrange = rng.random, rng.randrange
    result: list[SimOrder] = []
    for (buyer, channel), (hour_start, seconds) in zip(plan, starts, strict=True):
        currency = CURRENCIES[channel]
        money = pricing[currency]
        english = channel == AMAZON
        lines = tuple(
            SimLine(
                product.sku,
                product.title_en if english else product.title,
                _QUANTITY.pick(rng),
                money.prices[product.sku],
            )
            for product in _basket(rng)
        )
        items = sum(line.quantity * line.unit_price for line in lines)
        shipping = 0 if items >= money.free_from else money.fee
        discount = money.coupon(rng, items) if random() < COUPON_SHARE else 0
        placed_at = hour_start + timedelta(seconds=randrange(seconds))
        paid_at = cancelled_at = None
        fate = random()
        if fate < PAID_SHARE:
            paid_at = placed_at + timedelta(seconds=int(pay_low * pay_spread ** random()))
        elif fate >= PAID_SHARE + PENDING_SHARE:
            cancelled_at = placed_at + timedelta(seconds=randrange(_CANCEL_DELAY[0], _CANCEL_DELAY[1] + 1))
        account = buyer.account(channel)
        result.append(
            SimOrder(
                channel=channel,
                channel_order_id=minter.mint(channel, day),
                currency=currency,
                placed_at=placed_at,
                paid_at=paid_at,
                cancelled_at=cancelled_at,
                lines=lines,
                shipping_amount=shipping,
                discount_amount=discount,
                buyer_id=buyer.buyer_id,
                buyer_phone=account.phone_as_written,
                platform_buyer_id=account.platform_buyer_id,
                warehouse_code=_WAREHOUSE.pick(rng),
            )
        )
    result.sort(key=lambda o: (o.placed_at, o.channel, o.channel_order_id))
    return SimDay(day=day, seed=seed, orders=tuple(result))
