"""validate_submission turns a partner's order into minor units, or names every faulty field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.errors import Problem, Problems, UserError
from domain.orders.commands import (
    MAX_LINES,
    CanonicalOrder,
    LineSubmission,
    OrderSubmission,
    validate_submission,
)
from domain.orders.status import OrderStatus

SHANGHAI = timezone(timedelta(hours=8))
PLACED = datetime(2024, 11, 11, 0, 5, tzinfo=SHANGHAI)
PAID = datetime(2024, 11, 11, 0, 7, tzinfo=SHANGHAI)
AT = ("orders", 0)


def good(**changes: Any) -> OrderSubmission:
    sub = OrderSubmission(
        channel="TAOBAO",
        channel_order_id=" 4012345678901234567 ",
        status="PAID",
        currency="CNY",
        placed_at=PLACED,
        paid_at=PAID,
        lines=[
            LineSubmission(sku=" TEA-001 ", title=" Longjing tea ", quantity=2, unit_price="80.00"),
            LineSubmission(sku="CUP-002", title="Cup", quantity=3, unit_price="12.5"),
        ],
        shipping_amount="10.00",
        discount_amount="5.50",
        total_amount="202.00",
        buyer_phone="13812345678",
        warehouse_code="SH-01",
    )
    return dataclasses.replace(sub, **changes)


def validate(sub: OrderSubmission, at: tuple[str | int, ...] = AT) -> tuple[CanonicalOrder | None, list[Problem]]:
    problems = Problems()
    order = validate_submission(sub, at, problems)
    return order, problems.items


def only_problem(sub: OrderSubmission) -> Problem:
    order, problems = validate(sub)
    assert order is None
    assert len(problems) == 1, problems
    return problems[0]


def test_good_submission_becomes_canonical() -> None:
    order, problems = validate(good())
    assert problems == []
    assert order is not None
    assert order.channel == "TAOBAO"
    assert order.channel_order_id == "4012345678901234567"
    assert order.status is OrderStatus.PAID
    assert order.currency == "CNY"
    assert order.placed_at == datetime(2024, 11, 10, 16, 5, tzinfo=UTC)
    assert order.placed_at.utcoffset() == timedelta(0)
    assert order.paid_at == datetime(2024, 11, 10, 16, 7, tzinfo=UTC)
    assert order.cancelled_at is None
    assert [(x.line_no, x.sku, x.title, x.quantity, x.unit_price, x.amount) for x in order.lines] == [
        (1, "TEA-001", "Longjing tea", 2, 8000, 16000),
        (2, "CUP-002", "Cup", 3, 1250, 3750),
    ]
    assert order.items_amount == 19750
    assert order.shipping_amount == 1000
    assert order.discount_amount == 550
    assert order.total_amount == 19750 + 1000 - 550 == 20200


def test_total_may_be_written_with_fewer_decimals() -> None:
    order, problems = validate(good(total_amount="202"))
    assert problems == []
    assert order is not None
    assert order.total_amount == 20200


def test_total_is_computed_when_absent() -> None:
    order, _ = validate(good(total_amount=None, shipping_amount="0", discount_amount="0"))
    assert order is not None
    assert order.total_amount == order.items_amount == 19750


def test_channel_is_case_insensitive_and_jpy_has_no_decimals() -> None:
    sub = good(
        channel=" amazon ",
        currency="JPY",
        lines=[LineSubmission("SKU", "t", 3, "1000")],
        shipping_amount="500",
        discount_amount="0",
        total_amount="3500",
    )
    order, problems = validate(sub)
    assert problems == []
    assert order is not None
    assert order.channel == "AMAZON"
    assert order.items_amount == 3000
    assert order.total_amount == 3500


def test_pending_and_cancelled_are_submittable() -> None:
    order, problems = validate(good(status="PENDING_PAYMENT", paid_at=None, total_amount=None))
    assert problems == [] and order is not None and order.status is OrderStatus.PENDING_PAYMENT
    order, problems = validate(good(status="CANCELLED", cancelled_at=PAID, total_amount=None))
    assert problems == [] and order is not None and order.status is OrderStatus.CANCELLED


def test_content_is_what_a_repeat_must_match() -> None:
    order, _ = validate(good())
    assert order is not None
    assert order.content() == {
        "currency": "CNY",
        "items": 19750,
        "shipping": 1000,
        "discount": 550,
        "total": 20200,
        "lines": [("TEA-001", 2, 8000), ("CUP-002", 3, 1250)],
    }


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"channel": "EBAY"}, (*AT, "channel"), "UNKNOWN_CHANNEL"),
        ({"channel_order_id": "   "}, (*AT, "channel_order_id"), "REQUIRED"),
        ({"channel_order_id": "x" * 101}, (*AT, "channel_order_id"), "TOO_LONG"),
        ({"currency": "RMB"}, (*AT, "currency"), "INVALID_CURRENCY"),
        ({"status": "SHIPPED"}, (*AT, "status"), "STATUS_NOT_SUBMITTABLE"),
        ({"status": "SHIP_REQUESTED"}, (*AT, "status"), "STATUS_NOT_SUBMITTABLE"),
        ({"status": "paid"}, (*AT, "status"), "INVALID_STATUS"),
        ({"placed_at": datetime(2024, 11, 11, 0, 5)}, (*AT, "placed_at"), "INVALID_TIME"),
        ({"paid_at": datetime(2024, 11, 11, 0, 7)}, (*AT, "paid_at"), "INVALID_TIME"),
        ({"paid_at": None}, (*AT, "paid_at"), "REQUIRED"),
        ({"status": "CANCELLED", "cancelled_at": None}, (*AT, "cancelled_at"), "REQUIRED"),
        ({"lines": []}, (*AT, "lines"), "REQUIRED"),
        ({"lines": [LineSubmission("S", "t", 1, "1.00")] * (MAX_LINES + 1)}, (*AT, "lines"), "TOO_MANY"),
        ({"lines": [LineSubmission("A", "t", 2, "-80.00")]}, (*AT, "lines", 0, "unit_price"), "NEGATIVE_AMOUNT"),
        ({"lines": [LineSubmission("A", "t", 2, "80.001")]}, (*AT, "lines", 0, "unit_price"), "INVALID_AMOUNT"),
        ({"lines": [LineSubmission("A", "t", 0, "80.00")]}, (*AT, "lines", 0, "quantity"), "INVALID_QUANTITY"),
        ({"lines": [LineSubmission("A", "t", -1, "80.00")]}, (*AT, "lines", 0, "quantity"), "INVALID_QUANTITY"),
        ({"lines": [LineSubmission(" ", "t", 1, "80.00")]}, (*AT, "lines", 0, "sku"), "REQUIRED"),
        ({"shipping_amount": "-1.00"}, (*AT, "shipping_amount"), "NEGATIVE_AMOUNT"),
        ({"discount_amount": "abc"}, (*AT, "discount_amount"), "INVALID_AMOUNT"),
        ({"total_amount": "202.01"}, (*AT, "total_amount"), "AMOUNT_MISMATCH"),
        ({"total_amount": "197.50"}, (*AT, "total_amount"), "AMOUNT_MISMATCH"),
        ({"total_amount": "1e3"}, (*AT, "total_amount"), "INVALID_AMOUNT"),
        ({"discount_amount": "300.00", "total_amount": None}, (*AT, "discount_amount"), "NEGATIVE_AMOUNT"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, Any], path: tuple[str | int, ...], code: str) -> None:
    problem = only_problem(good(**changes))
    assert (problem.field, problem.code) == (path, code)
    assert problem.message


def test_second_line_problem_names_its_index() -> None:
    lines = [LineSubmission("A", "t", 1, "1.00"), LineSubmission("B", "t", 0, "1.00")]
    problem = only_problem(good(lines=lines, total_amount=None))
    assert problem.field == (*AT, "lines", 1, "quantity")


def test_discount_exactly_the_order_is_free_not_negative() -> None:
    order, problems = validate(good(discount_amount="207.50", total_amount="0"))
    assert problems == []
    assert order is not None
    assert order.total_amount == 0


def test_path_prefix_is_used_verbatim() -> None:
    _, problems = validate(good(currency="XYZ"), at=("input", "orders", 7))
    assert [p.field for p in problems] == [("input", "orders", 7, "currency")]


def test_several_problems_are_reported_at_once() -> None:
    sub = good(
        channel="EBAY",
        channel_order_id="",
        status="SHIPPED",
        placed_at=datetime(2024, 11, 11),
        lines=[
            LineSubmission("A", "t", 0, "80.00"),
            LineSubmission("B", "t", 1, "-1.00"),
        ],
        shipping_amount="1.001",
    )
    order, problems = validate(sub)
    assert order is None
    assert {(p.field, p.code) for p in problems} == {
        ((*AT, "channel"), "UNKNOWN_CHANNEL"),
        ((*AT, "channel_order_id"), "REQUIRED"),
        ((*AT, "status"), "STATUS_NOT_SUBMITTABLE"),
        ((*AT, "placed_at"), "INVALID_TIME"),
        ((*AT, "lines", 0, "quantity"), "INVALID_QUANTITY"),
        ((*AT, "lines", 1, "unit_price"), "NEGATIVE_AMOUNT"),
        ((*AT, "shipping_amount"), "INVALID_AMOUNT"),
    }
    assert len(problems) == 7


def test_bad_currency_suppresses_amount_noise() -> None:
    """Without a currency no amount can be judged, so only the currency is reported."""
    _, problems = validate(good(currency="cny", shipping_amount="oops"))
    assert [(p.field, p.code) for p in problems] == [((*AT, "currency"), "INVALID_CURRENCY")]


def test_problems_accumulate_across_orders_and_raise_together() -> None:
    problems = Problems()
    assert validate_submission(good(), ("orders", 0), problems) is not None
    assert validate_submission(good(channel="EBAY"), ("orders", 1), problems) is None
    assert validate_submission(good(lines=[]), ("orders", 2), problems) is None
    assert [p.field for p in problems.items] == [("orders", 1, "channel"), ("orders", 2, "lines")]
    with pytest.raises(UserError) as excinfo:
        problems.raise_if_any()
    assert [p.code for p in excinfo.value.problems] == ["UNKNOWN_CHANNEL", "REQUIRED"]
    assert "orders.1.channel" in str(excinfo.value)


def test_no_problems_raise_nothing() -> None:
    Problems().raise_if_any()
