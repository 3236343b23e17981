"""The pure rules of offline push and fair use: quiet hours on the merchant's clock, the texts, and how long a
throttled partner waits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from api.auth.cost_bucket import Window, wait_for
from domain.i18n import use_language
from domain.orders.status import OrderStatus
from domain.push.quiet import QuietHours
from domain.push.service import eta_moved
from domain.push.texts import PushReason, compose

SHANGHAI = "Asia/Shanghai"
NIGHT = QuietHours(time(22), time(8), SHANGHAI)


def _utc(hour: int, minute: int = 0, day: int = 8) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "released"),
    [
        (_utc(4), _utc(4)),  # 12:00 in Shanghai: sent now
        (_utc(13, 59), _utc(13, 59)),  # 21:59
        (_utc(14), _utc(0, day=9)),  # 22:00: held until 08:00 the next morning
        (_utc(17, 30), _utc(0, day=9)),  # 01:30 after midnight: until 08:00 the same morning
        (_utc(23, 59, day=8), _utc(0, day=9)),  # 07:59
        (_utc(0, day=9), _utc(0, day=9)),  # 08:00 sharp: the quiet hours are over
    ],
)
def test_quiet_hours_past_midnight_hold_until_their_end(now: datetime, released: datetime) -> None:
    assert NIGHT.release(now) == released


def test_quiet_hours_within_one_day_and_none() -> None:
    lunch = QuietHours(time(12), time(13, 30), SHANGHAI)
    assert lunch.release(_utc(4, 10)) == _utc(5, 30)
    assert lunch.release(_utc(3, 59)) == _utc(3, 59)
    assert QuietHours(time(8), time(8), SHANGHAI).release(_utc(16)) == _utc(16)
    assert QuietHours(None, None, SHANGHAI).release(_utc(16)) == _utc(16)


def test_texts_name_the_order_its_status_and_the_time_on_the_merchants_clock() -> None:
    shipped = compose(PushReason.SHIPPED, "TB-1024", OrderStatus.SHIPPED, _utc(7), "DELIVERED", SHANGHAI, "zh-CN")
    assert shipped.title == "订单已发货"
    assert shipped.text == "您的订单 TB-1024 已发货。预计 12月8日 15:00 送达。"
    moved = compose(PushReason.ETA_MOVED, "TB-1024", OrderStatus.PACKED, _utc(17), "SHIPPED", SHANGHAI, "zh-CN")
    assert moved.text == "您的订单 TB-1024（已打包）预计时间已更新。预计 12月9日 01:00 发货。"
    delivered = compose(PushReason.DELIVERED, "TB-1", OrderStatus.DELIVERED, None, None, SHANGHAI, "zh-CN")
    assert delivered.text.endswith("已送达。")


def test_a_merchant_speaking_english_pushes_in_english_whatever_the_work_at_hand_speaks() -> None:
    with use_language("zh-CN"):
        shipped = compose(PushReason.SHIPPED, "TB-1024", OrderStatus.SHIPPED, _utc(7), "DELIVERED", SHANGHAI, "en")
    assert shipped.title == "Order shipped"
    assert shipped.text == "Your order TB-1024 is shipped. Expected to be delivered by 12/8 15:00."


def test_only_a_prediction_replacing_another_by_more_than_the_threshold_moved() -> None:
    hour = timedelta(hours=1)
    assert eta_moved(_utc(4), _utc(6), hour)
    assert eta_moved(_utc(6), _utc(4), hour)
    assert not eta_moved(_utc(4), _utc(4, 30), hour)
    assert not eta_moved(None, _utc(9), hour)  # the first after a move: the status push tells it
    assert not eta_moved(_utc(4), None, hour)


def test_a_throttled_partner_waits_until_its_cost_fits() -> None:
    # a 20 s window of 1,000 points: 600 spent in the previous window with 10 s of its weight left
    assert wait_for(Window(600, 10.0, 100, 30.0), 20, 1000, 100) == 0.0  # 300 + 100 <= 900
    # 300 weighted + 500 current: 200 to fit, the previous window lets 30 points go a second
    assert wait_for(Window(600, 10.0, 500, 30.0), 20, 1000, 400) == pytest.approx(10 - 100 * 20 / 600)
    # a burst in the current window alone: it turns in 15 s, then 1,000 points fade over 20 s
    assert wait_for(Window(0, 0.0, 1000, 35.0), 20, 1000, 250) == pytest.approx(15 + 20 * 0.25)
