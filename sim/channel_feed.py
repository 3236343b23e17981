"""A day of raw channel payloads, each in its platform's own shape, with upstream changes injected mid-day.

The injections are the ones that hurt merchants in practice: Amazon starts sending
`order_id_suffix = "ERR"` at noon, Douyin starts using a status code nobody mapped (106) at
13:00, and WeChat Channels starts sending `price_info.order_price` as a string at 15:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
FEED_CHANNELS = ("TAOBAO", "DOUYIN", "WECHAT_CHANNELS", "AMAZON")
SUFFIX_FROM = time(12, 0)
NEW_STATUS_FROM = time(13, 0)
TYPE_CHANGE_FROM = time(15, 0)
NEW_DOUYIN_STATUS = 106
PRODUCTS = (("TEA-LJ-250", "明前龙井 250g", 16800), ("CUP-GLASS", "双层玻璃杯", 1500),
            ("BOTTLE-500", "保温杯 500ml", 5990), ("COFFEE-227", "咖啡豆 227g", 3900))  # fmt: skip
AMAZON_PRODUCTS = (("MUG-BLUE", "Stoneware Mug, Blue", 1999), ("COASTER-4", "Cork Coasters (4 pack)", 1400))


@dataclass(frozen=True)
class FeedItem:
    at: datetime
    channel: str
    payload: dict[str, Any]
    injected: str | None


def _digits(rng: Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _basket(rng: Random, products: tuple[tuple[str, str, int], ...]) -> list[tuple[str, str, int, int]]:
    chosen = rng.sample(products, rng.randint(1, 2))
    return [(sku, title, price, rng.randint(1, 3)) for sku, title, price in chosen]


def _taobao(rng: Random, at: datetime, paid: bool) -> dict[str, Any]:
    lines = _basket(rng, PRODUCTS)
    total = sum(p * q for _, _, p, q in lines)
    local = at.astimezone(ZONE)
    return {"trade_fullinfo_get_response": {"trade": {
        "tid_str": "3" + _digits(rng, 18), "type": "fixed",
        "status": "WAIT_SELLER_SEND_GOODS" if paid else "WAIT_BUYER_PAY",
        "created": f"{local:%Y-%m-%d %H:%M:%S}",
        "pay_time": f"{local + timedelta(seconds=40):%Y-%m-%d %H:%M:%S}" if paid else "",
        "payment": _yuan(total), "total_fee": _yuan(total), "post_fee": "0.00",
        "buyer_open_uid": "AAH" + _digits(rng, 12), "receiver_name": "王*", "receiver_mobile": "138" + _digits(rng, 8),
        "orders": {"order": [{"oid_str": "3" + _digits(rng, 18), "outer_sku_id": sku, "sku_id": _digits(rng, 13),
                              "title": title, "num": qty, "price": _yuan(price), "status": "WAIT_SELLER_SEND_GOODS"}
                             for sku, title, price, qty in lines]},
    }}}  # fmt: skip


def _douyin(rng: Random, at: datetime, paid: bool) -> dict[str, Any]:
    lines = _basket(rng, PRODUCTS)
    total = sum(p * q for _, _, p, q in lines)
    order_id = "69" + _digits(rng, 17)
    return {"code": 10000, "msg": "success", "data": {"shop_order_detail": {
        "order_id": order_id, "order_status": 2 if paid else 1, "main_status": 103 if paid else 101,
        "create_time": int(at.timestamp()), "pay_time": int(at.timestamp()) + 30 if paid else 0,
        "update_time": int(at.timestamp()) + 31, "order_amount": total, "pay_amount": total, "post_amount": 0,
        "doudian_open_id": "1@#" + _digits(rng, 16), "mask_post_receiver": "李**", "mask_post_tel": "1********92",
        "encrypt_post_tel": "$$" + _digits(rng, 20) + "$1$$",
        "sku_order_list": [{"order_id": order_id[:-1] + str(i), "out_sku_id": sku, "sku_id": int(_digits(rng, 16)),
                            "product_name": title, "item_num": qty, "goods_price": price, "order_status": 2}
                           for i, (sku, title, price, qty) in enumerate(lines)],
    }}}  # fmt: skip


def _wechat(rng: Random, at: datetime, paid: bool) -> dict[str, Any]:
    lines = _basket(rng, PRODUCTS)
    total = sum(p * q for _, _, p, q in lines)
    return {"errcode": 0, "errmsg": "ok", "order": {
        "order_id": "37" + _digits(rng, 17), "status": 20 if paid else 10,
        "create_time": int(at.timestamp()), "update_time": int(at.timestamp()) + 45,
        "openid": "oZ8x" + _digits(rng, 20), "unionid": "o6_b" + _digits(rng, 20),
        "order_detail": {
            "product_infos": [{"product_id": _digits(rng, 14), "sku_id": _digits(rng, 10), "sku_code": sku,
                               "title": title, "sku_cnt": qty, "sale_price": price}
                              for sku, title, price, qty in lines],
            "price_info": {"product_price": total, "order_price": total, "freight": 0, "discounted_price": 0},
            "pay_info": {"pay_time": int(at.timestamp()) + 45} if paid else {},
        },
    }}  # fmt: skip


def _amazon(rng: Random, at: datetime, paid: bool) -> dict[str, Any]:
    lines = _basket(rng, AMAZON_PRODUCTS)
    total = sum(p * q for _, _, p, q in lines)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"order": {
        "AmazonOrderId": f"{rng.choice(('111', '112', '113'))}-{_digits(rng, 7)}-{_digits(rng, 7)}",
        "PurchaseDate": stamp, "LastUpdateDate": stamp, "OrderStatus": "Unshipped" if paid else "Pending",
        "FulfillmentChannel": rng.choice(("MFN", "AFN")), "OrderType": "StandardOrder",
        "OrderTotal": {"CurrencyCode": "USD", "Amount": _yuan(total)}, "MarketplaceId": "ATVPDKIKX0DER",
        "BuyerInfo": {"BuyerEmail": _digits(rng, 10) + "@marketplace.amazon.com"},
    }, "orderItems": [{"ASIN": "B0" + _digits(rng, 8), "SellerSKU": sku, "Title": title, "QuantityOrdered": qty,
                       "ItemPrice": {"CurrencyCode": "USD", "Amount": _yuan(price * qty)}}
                      for sku, title, price, qty in lines]}  # fmt: skip


BUILDERS = {"TAOBAO": _taobao, "DOUYIN": _douyin, "WECHAT_CHANNELS": _wechat, "AMAZON": _amazon}


def _inject(channel: str, local: time, payload: dict[str, Any]) -> str | None:
    if channel == "AMAZON" and local >= SUFFIX_FROM:
        payload["order"]["order_id_suffix"] = "ERR"
        return "order_id_suffix=ERR"
    if channel == "DOUYIN" and local >= NEW_STATUS_FROM and payload["data"]["shop_order_detail"]["order_status"] == 2:
        payload["data"]["shop_order_detail"]["order_status"] = NEW_DOUYIN_STATUS
        return f"order_status={NEW_DOUYIN_STATUS}"
    if channel == "WECHAT_CHANNELS" and local >= TYPE_CHANGE_FROM:
        prices = payload["order"]["order_detail"]["price_info"]
        prices["order_price"] = str(prices["order_price"])
        return "order_price as string"
    return None


def channel_day(seed: int, day: date, per_channel: int) -> list[FeedItem]:
    """`per_channel` payloads per channel spread over the local day (08:00-22:00), in time order."""
    rng = Random(seed)
    items = []
    start = datetime.combine(day, time(8, 0), ZONE)
    for channel in FEED_CHANNELS:
        for index in range(per_channel):
            at = start + timedelta(minutes=int((index + rng.random()) * 14 * 60 / per_channel))
            payload = BUILDERS[channel](rng, at, rng.random() < 0.8)
            items.append(FeedItem(at, channel, payload, _inject(channel, at.astimezone(ZONE).time(), payload)))
    items.sort(key=lambda item: item.at)
    return items
