"""Channel adapters, cleaning rules and drift comparison on realistic payloads, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.channels import drift
from domain.channels.adapter import normalize
from domain.channels.cleaning import clean, parse_rules
from domain.channels.registry import adapter_for
from domain.errors import Problems, UserError
from domain.orders.status import OrderStatus
from tests.fixtures.channels import payload


def test_taobao_trade_maps_yuan_beijing_time_and_sub_orders() -> None:
    order = normalize(adapter_for("TAOBAO"), payload("TAOBAO"))  # type: ignore[arg-type]
    assert order.channel_order_id == "3916620753462938475"
    assert order.status is OrderStatus.PAID
    assert order.raw_status == "WAIT_SELLER_SEND_GOODS"
    assert order.placed_at == datetime(2026, 1, 22, 1, 14, 3, tzinfo=UTC)  # 09:14:03 in Shanghai
    assert [(x.sku, x.quantity, x.unit_price) for x in order.lines] == [
        ("TEA-LJ-250", 1, 16800),
        ("CUP-GLASS", 2, 1500),
    ]
    assert (order.items_amount, order.discount_amount, order.total_amount) == (19800, 1000, 18800)


def test_douyin_order_maps_fen_unix_time_and_keeps_no_plain_receiver() -> None:
    order = normalize(adapter_for("DOUYIN"), payload("DOUYIN"))  # type: ignore[arg-type]
    assert order.channel_order_id == "6919475937285932451"
    assert (order.status, order.raw_status) == (OrderStatus.PAID, "2")
    assert order.paid_at == datetime.fromtimestamp(1769044481, UTC)
    assert [(x.sku, x.unit_price) for x in order.lines] == [("BOTTLE-500", 5990), ("SLEEVE", 2000)]
    assert order.total_amount == 8990 and order.discount_amount == 1000
    assert order.buyer_phone is None
    assert order.platform_buyer_id and order.platform_buyer_id.startswith("1@#")


def test_wechat_channels_order_maps_status_code_and_unionid() -> None:
    order = normalize(adapter_for("WECHAT_CHANNELS"), payload("WECHAT_CHANNELS"))  # type: ignore[arg-type]
    assert (order.status, order.raw_status, order.total_amount) == (OrderStatus.PAID, "20", 7300)
    assert order.platform_buyer_id == "o6_bmasdasdsad6_2sgVt7hMZOPfL"
    assert order.lines[0].quantity == 2 and order.lines[0].unit_price == 3900
    # both ids by their kind: a buyer signed in to the mini-program with either sees the order
    assert order.buyer_aliases == (
        ("WECHAT_UNIONID", "o6_bmasdasdsad6_2sgVt7hMZOPfL"),
        ("WECHAT_OPENID", "oZ8xW5Jx7kQGvB4YpCq1Xn2fLm3A"),
    )


def test_amazon_order_divides_item_price_and_sums_shipping_and_promotions() -> None:
    order = normalize(adapter_for("AMAZON"), payload("AMAZON"))  # type: ignore[arg-type]
    assert (order.channel_order_id, order.currency, order.raw_status) == ("902-3159896-1390916", "USD", "Unshipped")
    assert [(x.sku, x.quantity, x.unit_price) for x in order.lines] == [("MUG-BLUE", 2, 1999), ("COASTER-4", 1, 1400)]
    assert (order.shipping_amount, order.discount_amount, order.total_amount) == (500, 200, 5698)
    assert order.warehouse_code == "AMAZON-MFN"


@pytest.mark.parametrize(
    ("channel", "mutate", "path", "code"),
    [
        ("DOUYIN", lambda o: o["data"]["shop_order_detail"].update(order_id="123"), "order_id", "WRONG_SHAPE"),
        ("DOUYIN", lambda o: o["data"]["shop_order_detail"].update(order_status=77), "order_status", "UNKNOWN_STATUS"),
        ("WECHAT_CHANNELS", lambda o: o["order"]["order_detail"]["price_info"].update(order_price="73"), "order_price",
         "WRONG_SHAPE"),
        ("TAOBAO", lambda o: o["trade_fullinfo_get_response"]["trade"].update(created="22/01/2026"), "created",
         "WRONG_SHAPE"),
        ("AMAZON", lambda o: o["orderItems"][1].pop("QuantityOrdered"), "QuantityOrdered", "WRONG_SHAPE"),
    ],
)  # fmt: skip
def test_wrong_shapes_name_the_payload_path(channel: str, mutate, path: str, code: str) -> None:  # type: ignore[no-untyped-def]
    data = payload(channel)
    mutate(data)
    with pytest.raises(UserError) as caught:
        normalize(adapter_for(channel), data)  # type: ignore[arg-type]
    problem = caught.value.problems[0]
    assert problem.field[0] == "payload" and problem.field[-1] == path and problem.code == code


def test_cleaning_ops_apply_to_a_copy() -> None:
    problems = Problems()
    rules = parse_rules(
        [
            {"op": "drop_if_equals", "path": "order_id_suffix", "value": "ERR"},
            {"op": "drop", "path": "noise"},
            {"op": "rename", "path": "tel", "to": "phone"},
            {"op": "strip_suffix", "path": "sku", "suffix": "-OLD"},
            {"op": "map_values", "path": "items[].status", "mapping": {"9": 2}},
            {"op": "coerce", "path": "items[].qty", "to": "integer"},
            {"op": "trim", "path": "title"},
        ],
        problems,
    )
    assert problems.items == []
    raw = {"order_id_suffix": "ERR", "noise": 1, "tel": "x", "sku": "A-OLD", "title": " t ",
           "items": [{"status": 9, "qty": "3"}, {"status": 1, "qty": 2}]}  # fmt: skip
    cleaned = clean(rules, raw)
    assert cleaned == {
        "phone": "x",
        "sku": "A",
        "title": "t",
        "items": [{"status": 2, "qty": 3}, {"status": 1, "qty": 2}],
    }
    assert raw["order_id_suffix"] == "ERR"
    assert clean(rules, {"order_id_suffix": "A"}) == {"order_id_suffix": "A"}


def test_invalid_rules_name_the_rule_field() -> None:
    problems = Problems()
    parse_rules(
        [{"op": "explode", "path": "x"}, {"op": "coerce", "path": "y", "to": "float"}, {"op": "drop"}], problems
    )
    assert [(p.field, p.code) for p in problems.items] == [
        (("rules", 0, "op"), "INVALID_RULE"),
        (("rules", 1, "to"), "INVALID_RULE"),
        (("rules", 2, "path"), "INVALID_RULE"),
    ]


def test_drift_finds_new_missing_retyped_fields_and_new_status_values() -> None:
    enums = frozenset({"order_status"})
    shape = drift.learn({}, {"order_id": "1", "order_status": 2, "post_tel": "13800138000", "n": 1}, enums)
    changed = {"order_id": 1, "order_status": 9, "order_id_suffix": "ERR", "n": 1, "receiver_name": "王小明"}
    found = {(f.path, f.change, f.detail): f.example for f in drift.compare(shape, changed, enums)}
    assert found == {
        ("order_id", drift.Change.TYPE_CHANGE, "string -> integer"): "1",
        ("order_status", drift.Change.NEW_VALUE, "9"): "9",
        ("order_id_suffix", drift.Change.NEW_FIELD, "string"): '"ERR"',
        ("receiver_name", drift.Change.NEW_FIELD, "string"): "王***",
        ("post_tel", drift.Change.MISSING_FIELD, ""): "(absent)",
    }
    assert drift.redact("note", "call 13800138000") == '"call 138******00"'
    assert drift.redact("receiver_tel", 13800138000) == "1***"
    assert drift.redact("buyer_ref", 13800138000) == "138******00"
    assert drift.redact("order_status", 106) == "106"


def test_tmall_trades_share_the_taobao_format_and_keep_the_declared_channel() -> None:
    order = normalize(adapter_for("TMALL"), payload("TAOBAO"), "TMALL")  # type: ignore[arg-type]
    assert (order.channel, order.channel_order_id) == ("TMALL", "3916620753462938475")


def test_statuses_the_adapter_maps_are_not_drift_but_unmapped_codes_are() -> None:
    adapter = adapter_for("DOUYIN")
    assert adapter is not None
    seen = payload("DOUYIN")
    shape = drift.learn({}, seen, adapter.enum_paths)
    inner = seen["data"]["shop_order_detail"]
    for code, alerts in ((4, 0), (106, 1)):
        inner["order_status"] = code
        found = drift.compare(shape, seen, adapter.enum_paths, adapter.known_values())
        assert len([f for f in found if f.path.endswith(".order_status")]) == alerts


@pytest.mark.parametrize("channel", ["TAOBAO", "DOUYIN", "WECHAT_CHANNELS", "AMAZON"])
def test_attribution_is_kept_as_the_channel_sends_it(channel: str) -> None:
    body = dict(payload(channel))  # type: ignore[arg-type]
    assert normalize(adapter_for(channel), body).attribution.utm_source is None  # type: ignore[arg-type]
    body["traffic"] = {"landing_page": "https://shop.example/live?utm_source=Douyin&utm_campaign=d12"}
    got = normalize(adapter_for(channel), body).attribution  # type: ignore[arg-type]
    assert (got.utm_source, got.utm_campaign, got.landing_url) == (
        "douyin",
        "d12",
        "https://shop.example/live?utm_source=Douyin&utm_campaign=d12",
    )
