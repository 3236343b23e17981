"""The simulator is ground truth for demos, tests and benchmarks, so its own promises are pinned here."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from sim.buyers import MOBILE_PREFIXES, PHONE_STYLES, write_phone
from sim.catalog import CATALOG, WAREHOUSES
from sim.channels import CHANNEL_SHARES, CURRENCIES
from sim.day import SimDay, SimOrder, generate_day

DAY = date(2024, 11, 11)
SHANGHAI = ZoneInfo("Asia/Shanghai")

ORDER_ID_SHAPES = {
    "TAOBAO": re.compile(r"^\d{19}$"),
    "TMALL": re.compile(r"^\d{19}$"),
    "DOUYIN": re.compile(r"^\d{19}$"),
    "WECHAT_MINI": re.compile(r"^WX20241111\d{10}$"),
    "AMAZON": re.compile(r"^\d{3}-\d{7}-\d{7}$"),
}
BUYER_ID_SHAPES = {
    "TAOBAO": re.compile(r"^AAH[A-Za-z0-9_-]{21}$"),
    "TMALL": re.compile(r"^AAH[A-Za-z0-9_-]{21}$"),
    "DOUYIN": re.compile(r"^_000[A-Za-z0-9]{32}$"),
    "WECHAT_MINI": re.compile(r"^o[A-Za-z0-9_-]{27}$"),
    "AMAZON": re.compile(r"^A[A-Z0-9]{13}$"),
}


@pytest.fixture(scope="module")
def sim_day() -> SimDay:
    return generate_day(seed=42, day=DAY, orders=5000)


def _bare_phone(written: str) -> str:
    text = unicodedata.normalize("NFKC", written).replace(" ", "").replace("-", "")
    for prefix in ("0086", "+86"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def _is_cn_mobile(bare: str) -> bool:
    number = phonenumbers.parse(bare, "CN")
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) == PhoneNumberType.MOBILE


def _minor(text: str) -> int:
    assert re.fullmatch(r"-?\d+\.\d{2}", text), text
    value = Decimal(text) * 100
    assert value == value.to_integral_value()
    return int(value)


def test_same_seed_gives_the_same_day() -> None:
    first = generate_day(7, DAY, 800)
    second = generate_day(7, DAY, 800)
    assert first == second
    assert [o.as_input() for o in first.orders] == [o.as_input() for o in second.orders]


def test_different_seeds_and_days_differ() -> None:
    base = generate_day(7, DAY, 200)
    assert generate_day(8, DAY, 200).orders != base.orders
    assert generate_day(7, DAY + timedelta(days=1), 200).orders != base.orders


def test_exact_order_count_and_counts_are_ground_truth(sim_day: SimDay) -> None:
    assert len(sim_day.orders) == 5000
    counts = sim_day.counts()
    assert sum(v for k, v in counts.items() if k.startswith("channel:")) == 5000
    assert sum(v for k, v in counts.items() if k.startswith("status:")) == 5000
    assert counts["status:PAID"] == sum(o.final_status == "PAID" for o in sim_day.orders)
    assert generate_day(1, DAY, 0).orders == ()


def test_channel_shares_match_within_three_points(sim_day: SimDay) -> None:
    counts = sim_day.counts()
    for channel, share in CHANNEL_SHARES.items():
        assert abs(100 * counts[f"channel:{channel}"] / 5000 - share) <= 3, channel


def test_status_mix_is_mostly_paid(sim_day: SimDay) -> None:
    counts = sim_day.counts()
    assert 0.85 <= counts["status:PAID"] / 5000 <= 0.91
    assert 0.05 <= counts["status:PENDING_PAYMENT"] / 5000 <= 0.09
    assert 0.03 <= counts["status:CANCELLED"] / 5000 <= 0.07


def test_every_phone_is_a_valid_cn_mobile(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        bare = _bare_phone(order.buyer_phone)
        assert re.fullmatch(r"1\d{10}", bare), order.buyer_phone
        assert _is_cn_mobile(bare), order.buyer_phone


def test_every_prefix_and_style_is_a_valid_cn_mobile() -> None:
    for prefix in MOBILE_PREFIXES:
        for style in PHONE_STYLES:
            bare = _bare_phone(write_phone(f"{prefix}12345678", style))
            assert bare == f"{prefix}12345678"
            assert _is_cn_mobile(bare), (prefix, style)


def test_phone_writing_varies(sim_day: SimDay) -> None:
    written = {o.buyer_phone for o in sim_day.orders}
    assert any(p.startswith("+86 ") for p in written)
    assert any(p.startswith("0086 ") for p in written)
    assert any(re.fullmatch(r"\d{3}-\d{4}-\d{4}", p) for p in written)
    assert any(re.fullmatch(r"1\d{10}", p) for p in written)
    assert any(unicodedata.normalize("NFKC", p) != p for p in written)


def test_one_buyer_has_one_phone_and_one_id_per_channel(sim_day: SimDay) -> None:
    phones: dict[int, set[str]] = defaultdict(set)
    ids: dict[tuple[int, str], set[str]] = defaultdict(set)
    for order in sim_day.orders:
        phones[order.buyer_id].add(_bare_phone(order.buyer_phone))
        ids[(order.buyer_id, order.channel)].add(order.platform_buyer_id)
        assert BUYER_ID_SHAPES[order.channel].match(order.platform_buyer_id), order.platform_buyer_id
    assert all(len(numbers) == 1 for numbers in phones.values())
    assert all(len(found) == 1 for found in ids.values())
    # Distinct buyers never share a number, or the backend would rightly merge them.
    assert len({next(iter(numbers)) for numbers in phones.values()}) == len(phones)


def test_multi_channel_buyers_are_about_eight_percent_of_repeat_buyers(sim_day: SimDay) -> None:
    channels: dict[int, set[str]] = defaultdict(set)
    orders = Counter(o.buyer_id for o in sim_day.orders)
    for order in sim_day.orders:
        channels[order.buyer_id].add(order.channel)
    repeat = [buyer for buyer, count in orders.items() if count > 1]
    multi = [buyer for buyer in repeat if len(channels[buyer]) > 1]
    assert len(repeat) > 300
    assert 0.04 <= len(multi) / len(repeat) <= 0.12


def test_totals_add_up_and_are_never_negative(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        items = sum(line.quantity * line.unit_price for line in order.lines)
        assert order.items_amount == items
        assert order.total_amount == items + order.shipping_amount - order.discount_amount
        assert order.total_amount >= 0
        assert 0 <= order.discount_amount <= items


def test_shipping_and_coupons_follow_the_rules(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        if order.currency == "CNY":
            assert order.shipping_amount == (0 if order.items_amount >= 9900 else 800)
            assert order.discount_amount in (0, 500, 1000, 2000)
    with_coupon = sum(o.discount_amount > 0 for o in sim_day.orders) / 5000
    assert 0.26 <= with_coupon <= 0.34


def test_baskets_and_lines_are_plausible(sim_day: SimDay) -> None:
    sizes = Counter(len(o.lines) for o in sim_day.orders)
    assert 0.56 <= sizes[1] / 5000 <= 0.64
    assert 0.21 <= sizes[2] / 5000 <= 0.29
    assert max(sizes) <= 6
    skus = {product.sku for product in CATALOG}
    for order in sim_day.orders:
        assert len({line.sku for line in order.lines}) == len(order.lines)
        for line in order.lines:
            assert line.sku in skus
            assert 1 <= line.quantity <= 3
            assert line.unit_price > 0
            assert line.title


def test_catalog_is_realistic() -> None:
    assert 35 <= len(CATALOG) <= 45
    assert len({p.sku for p in CATALOG}) == len(CATALOG)
    for product in CATALOG:
        assert 990 <= product.price <= 129900
        assert isinstance(product.price, int)
        assert re.search(r"[\u4e00-\u9fff]", product.title)


def test_currencies_and_warehouses(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        assert order.currency == CURRENCIES[order.channel]
        assert order.currency == ("USD" if order.channel == "AMAZON" else "CNY")
        assert order.warehouse_code in WAREHOUSES
    assert {o.warehouse_code for o in sim_day.orders} == set(WAREHOUSES)


def test_channel_order_ids_have_real_shapes_and_are_unique(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        assert ORDER_ID_SHAPES[order.channel].match(order.channel_order_id), order.channel_order_id
    keys = [(o.channel, o.channel_order_id) for o in sim_day.orders]
    assert len(set(keys)) == len(keys)


def test_orders_are_placed_on_the_local_day_with_an_evening_peak(sim_day: SimDay) -> None:
    hours: Counter[int] = Counter()
    for order in sim_day.orders:
        assert order.placed_at.utcoffset() == timedelta(0)
        local = order.placed_at.astimezone(SHANGHAI)
        assert local.date() == DAY
        hours[local.hour] += 1
    evening_peak = max(hours[h] for h in (20, 21, 22, 23))
    assert evening_peak > hours[4]
    assert evening_peak > 3 * hours[4]
    assert hours[12] > hours[4]
    assert [o.placed_at for o in sim_day.orders] == sorted(o.placed_at for o in sim_day.orders)


def test_payment_and_cancellation_times(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        assert order.paid_at is None or order.cancelled_at is None
        if order.paid_at is not None:
            assert order.paid_at > order.placed_at
            assert timedelta(seconds=30) <= order.paid_at - order.placed_at <= timedelta(minutes=20)
        if order.cancelled_at is not None:
            assert timedelta(minutes=5) <= order.cancelled_at - order.placed_at <= timedelta(minutes=60)


def test_as_input_money_round_trips_exactly(sim_day: SimDay) -> None:
    for order in sim_day.orders:
        body = order.as_input()
        lines = body["lines"]
        assert [_minor(x["unitPrice"]) for x in lines] == [x.unit_price for x in order.lines]
        assert _minor(body["shippingAmount"]) == order.shipping_amount
        assert _minor(body["discountAmount"]) == order.discount_amount
        assert _minor(body["totalAmount"]) == order.total_amount
        items = sum(Decimal(x["unitPrice"]) * x["quantity"] for x in lines)
        assert items + Decimal(body["shippingAmount"]) - Decimal(body["discountAmount"]) == Decimal(body["totalAmount"])


def test_as_input_shape_by_status(sim_day: SimDay) -> None:
    paid = next(o for o in sim_day.orders if o.final_status == "PAID")
    cancelled = next(o for o in sim_day.orders if o.final_status == "CANCELLED")
    pending = next(o for o in sim_day.orders if o.final_status == "PENDING_PAYMENT")

    assert paid.paid_at is not None and cancelled.cancelled_at is not None
    body = paid.as_input()
    assert body["status"] == "PAID"
    assert body["paidAt"] == paid.paid_at.isoformat()
    assert "cancelledAt" not in body
    assert body["placedAt"].endswith("+00:00")
    assert body["buyer"] == {"phone": paid.buyer_phone, "platformBuyerId": paid.platform_buyer_id}
    assert body["warehouseCode"] == paid.warehouse_code
    assert set(body["lines"][0]) == {"sku", "title", "quantity", "unitPrice"}

    first = paid.as_input("PENDING_PAYMENT")
    assert first["status"] == "PENDING_PAYMENT"
    assert "paidAt" not in first and "cancelledAt" not in first

    assert cancelled.as_input()["cancelledAt"] == cancelled.cancelled_at.isoformat()
    assert "paidAt" not in pending.as_input()
    with pytest.raises(ValueError):
        cancelled.as_input("PAID")


def test_events_are_the_time_ordered_arrival_stream(sim_day: SimDay) -> None:
    events = sim_day.events()
    counts = sim_day.counts()
    assert len(events) == 5000 + counts["status:PAID"] + counts["status:CANCELLED"]
    assert [e[0] for e in events] == sorted(e[0] for e in events)
    seen: set[str] = set()
    for at, kind, order in events:
        key = f"{order.channel}:{order.channel_order_id}"
        if kind == "placed":
            assert at == order.placed_at
            seen.add(key)
        else:
            assert key in seen  # a payment never overtakes its order
            assert at == (order.paid_at if kind == "paid" else order.cancelled_at)
    assert {kind for _, kind, _ in events} == {"placed", "paid", "cancelled"}


def test_amazon_orders_are_in_usd_cents_with_english_titles(sim_day: SimDay) -> None:
    amazon: list[SimOrder] = [o for o in sim_day.orders if o.channel == "AMAZON"]
    assert amazon
    for order in amazon:
        assert order.as_input()["currencyCode"] == "USD"
        for line in order.lines:
            assert line.title.isascii()
            assert line.unit_price < next(p.price for p in CATALOG if p.sku == line.sku)


def test_a_dst_zone_still_places_every_order_on_its_local_day() -> None:
    zone = ZoneInfo("America/Los_Angeles")
    for day in (date(2024, 3, 10), date(2024, 11, 3)):
        sim = generate_day(3, day, 2000, tz="America/Los_Angeles")
        assert {o.placed_at.astimezone(zone).date() for o in sim.orders} == {day}
