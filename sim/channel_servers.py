"""Local stand-ins for the channels' open platforms, for shipment confirmations: each checks the request the way
the channel does (TOP and Douyin signatures recomputed here from the published rules, the WeChat and Amazon
tokens compared) and answers with the channel's own success and error bodies.

What a call gets is scripted per channel order id (`script`), or drawn at random (`transient_rate`,
`rate_limit_rate`) for the benchmark. The server remembers every (channel, order, tracking number) it accepted:
a later call for it is answered "already shipped" where the channel has such an answer, and counted in
`repeats_after_success`, which a sender that never confirms twice keeps at zero.

They also serve order lists for the channel pull (`orders`, filled with `taobao_trade`, `douyin_order` and
`amazon_order`): TOP's `taobao.trades.sold.increment.get`, Douyin's `order.searchList`, and SP-API's `getOrders`
and `getOrderItems`, each paged and filtered by modification time the channel's way. `pull_script` scripts the
list calls in turn (a throttle, an HTML page, a cut body, `REPEAT`: the previous page served again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


class Act(StrEnum):
    OK = "OK"
    ALREADY = "ALREADY"  # the channel's "already shipped"
    BUSY = "BUSY"  # the channel's own "try again" answer
    RATE_LIMITED = "RATE_LIMITED"  # the channel's own rate-limit answer
    HTTP_429 = "HTTP_429"  # 429 with Retry-After: 1
    HTTP_429_BARE = "HTTP_429_BARE"  # 429 without Retry-After
    REFUSED = "REFUSED"  # wrong company code / waybill
    CLOSED = "CLOSED"  # the order is closed
    AUTH = "AUTH"  # the token or session is no longer valid
    UNKNOWN = "UNKNOWN"  # an error code nobody documented
    HTML = "HTML"  # a gateway's HTML error page
    TRUNCATED = "TRUNCATED"  # the body stops before its Content-Length
    MALFORMED = "MALFORMED"  # a 200 whose JSON is cut short
    TIMEOUT = "TIMEOUT"  # answers after `slow_seconds`, and did apply the confirmation
    REPEAT = "REPEAT"  # an order list call answered with the page served before it


@dataclass(frozen=True)
class ShopKeys:
    app_key: str = "12345678"
    app_secret: str = "s3cr3t-app-secret"
    access_token: str = "6201-session-token"


@dataclass
class Seen:
    channel: str
    order_id: str
    tracking: str
    signed: bool
    act: Act
    parcel: str = ""  # what the call says of the parcel beyond its number: sub-orders, items, other parcels


@dataclass
class Ledger:
    calls: list[Seen] = field(default_factory=list)
    accepted: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    repeats_after_success: int = 0
    alerts: list[str] = field(default_factory=list)  # what reached the WeCom robot at /cgi-bin/webhook/send
    list_calls: list[tuple[str, bool, Act]] = field(default_factory=list)  # (channel, signed, act) per list call


class ChannelServer(ThreadingHTTPServer):
    daemon_threads = True
    keys: ShopKeys
    script: dict[str, list[Act]]
    transient_rate: float
    rate_limit_rate: float
    slow_seconds: float
    ledger: Ledger
    lock: threading.Lock
    rng: random.Random
    orders: dict[str, list[dict[str, Any]]]
    amazon_items: dict[str, list[dict[str, Any]]]
    pull_script: list[Act]
    last_pages: dict[str, bytes]
    next_tokens: dict[str, tuple[int, str, str, int]]

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def next_act(self, order_id: str) -> Act:
        with self.lock:
            planned = self.script.get(order_id)
            if planned:
                return planned.pop(0)
            draw = self.rng.random()
        if draw < self.transient_rate:
            return Act.BUSY if draw < self.transient_rate / 2 else Act.HTML
        if draw < self.transient_rate + self.rate_limit_rate:
            return Act.HTTP_429_BARE if draw < self.transient_rate + self.rate_limit_rate / 2 else Act.RATE_LIMITED
        return Act.OK

    def next_list_act(self) -> Act:
        with self.lock:
            return self.pull_script.pop(0) if self.pull_script else Act.OK

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": len(self.ledger.calls),
                "accepted": len(self.ledger.accepted),
                "repeats_after_success": self.ledger.repeats_after_success,
                "bad_signatures": sum(1 for seen in self.ledger.calls if not seen.signed),
            }


def top_sign(params: dict[str, str], secret: str) -> str:
    method = params.get("sign_method", "md5")
    text = "".join(k + v for k, v in sorted(params.items()) if k != "sign")
    if method == "md5":
        return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()
    algorithm = hashlib.sha256 if method == "hmac-sha256" else hashlib.md5
    return hmac.new(secret.encode(), text.encode(), algorithm).hexdigest().upper()


def douyin_sign(query: dict[str, str], body: str, secret: str) -> str:
    text = (
        secret + "app_key" + query["app_key"] + "method" + query["method"] + "param_json" + body
        + "timestamp" + query["timestamp"] + "v" + query["v"] + secret
    )  # fmt: skip
    if query.get("sign_method") == "md5":
        return hashlib.md5(text.encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _taobao(act: Act) -> tuple[int, dict[str, Any] | None]:
    def error(code: int, msg: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
        response = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "1m2n3o"}
        return {"error_response": response}

    offline, remote = "isv.logistics-offline-service-error", "Remote service error"
    return {
        Act.OK: (200, {"logistics_offline_send_response": {"shipping": {"is_success": True}, "request_id": "1m2n3o"}}),
        Act.ALREADY: (200, error(15, remote, f"{offline}:B04", "该物流订单已经发货或者已关闭")),
        Act.BUSY: (200, error(15, "Remote service error", "isp.top-remote-connection-timeout", "调用后端服务超时")),
        Act.RATE_LIMITED: (200, error(7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "ban 1 s")),
        Act.REFUSED: (200, error(15, "Remote service error", f"{offline}:B60", "运单号不符合规则或已经被使用")),
        Act.CLOSED: (200, error(15, "Remote service error", f"{offline}:B01", "订单不存在或已关闭")),
        Act.AUTH: (200, error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")),
        Act.UNKNOWN: (200, error(15, "Remote service error", "isv.brand-new-error:Z99", "未知错误")),
    }.get(act, (200, None))  # fmt: skip


def _douyin(act: Act) -> tuple[int, dict[str, Any] | None]:
    def answer(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> dict[str, Any]:
        return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg, "data": {}, "log_id": "2026120715"}

    return {
        Act.OK: (200, answer(10000, "success")),
        Act.ALREADY: (200, answer(50002, "业务处理失败", "isv.business-failed:10009", "订单已发货，请勿重复发货")),
        Act.BUSY: (200, answer(20000, "服务不可用", "isp.service-error", "服务暂不可用，请稍后重试")),
        Act.RATE_LIMITED: (200, answer(90000, "流量超限", "isv.access-limit", "请求太频繁")),
        Act.REFUSED: (200, answer(50002, "业务处理失败", "isv.business-failed:10026", "物流公司编码错误")),
        Act.CLOSED: (200, answer(50002, "业务处理失败", "isv.business-failed:10013", "订单已关闭，无法发货")),
        Act.AUTH: (200, answer(30002, "access_token已过期", "isv.access-token-expired", "access_token已过期")),
        Act.UNKNOWN: (200, answer(77777, "未知错误")),
    }.get(act, (200, None))  # fmt: skip


def _wechat(act: Act) -> tuple[int, dict[str, Any] | None]:
    return {
        Act.OK: (200, {"errcode": 0, "errmsg": "ok"}),
        Act.ALREADY: (200, {"errcode": 0, "errmsg": "ok"}),
        Act.BUSY: (200, {"errcode": -1, "errmsg": "system error"}),
        Act.RATE_LIMITED: (200, {"errcode": 45009, "errmsg": "reach max api daily quota limit"}),
        Act.REFUSED: (200, {"errcode": 10020054, "errmsg": "delivery_id is invalid"}),
        Act.CLOSED: (200, {"errcode": 10020012, "errmsg": "order status is not allowed to deliver"}),
        Act.AUTH: (200, {"errcode": 42001, "errmsg": "access_token expired"}),
        Act.UNKNOWN: (200, {"errcode": 99999999, "errmsg": "unknown"}),
    }.get(act, (200, None))


def _amazon(act: Act) -> tuple[int, dict[str, Any] | None]:
    def errors(code: str, message: str) -> dict[str, Any]:
        return {"errors": [{"code": code, "message": message, "details": ""}]}

    return {
        Act.OK: (204, None),
        Act.ALREADY: (204, None),
        Act.BUSY: (503, errors("ServiceUnavailable", "Service is temporarily unavailable.")),
        Act.RATE_LIMITED: (429, errors("QuotaExceeded", "You exceeded your quota for the requested resource.")),
        Act.REFUSED: (400, errors("InvalidInput", "Invalid carrierCode.")),
        Act.CLOSED: (400, errors("InvalidInput", "The order is cancelled.")),
        Act.AUTH: (403, errors("Unauthorized", "Access to requested resource is denied.")),
        Act.UNKNOWN: (418, errors("Teapot", "unexpected")),
    }.get(act, (200, None))


ANSWERS = {"TAOBAO": _taobao, "DOUYIN": _douyin, "WECHAT_CHANNELS": _wechat, "AMAZON": _amazon}


class Handler(BaseHTTPRequestHandler):
    server: ChannelServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the platforms serve
    disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms wait for a delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if self.path == "/_stats":
            self._send(200, "application/json", json.dumps(self.server.stats()).encode())
        elif url.path == "/orders/v0/orders":
            self._amazon_orders(dict(parse_qsl(url.query)))
        elif url.path.startswith("/orders/v0/orders/") and url.path.endswith("/orderItems"):
            order_id = url.path.split("/")[4]
            if self.headers.get("x-amz-access-token") != self.server.keys.access_token:
                self._reply("AMAZON", Act.AUTH)
                return
            items = self.server.amazon_items.get(order_id)
            if items is None:
                self._reply("AMAZON", Act.REFUSED)
                return
            body = {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}
            self._send(200, "application/json", json.dumps(body).encode())
        else:
            self._send(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        url = urlparse(self.path)
        query = dict(parse_qsl(url.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        keys = self.server.keys
        if url.path == "/cgi-bin/webhook/send":
            with self.server.lock:
                self.server.ledger.alerts.append(json.loads(body)["markdown"]["content"])
            self._send(200, "application/json", b'{"errcode":0,"errmsg":"ok"}')
            return
        if url.path == "/router/rest" and "method=taobao.trades.sold.increment.get" in body:
            self._taobao_orders(dict(parse_qsl(body)))
            return
        if url.path == "/order/searchList":
            self._douyin_orders(query, body)
            return
        if url.path == "/router/rest":
            form = dict(parse_qsl(body))
            channel, order_id, tracking = "TAOBAO", form.get("tid", ""), form.get("out_sid", "")
            parcel = f"split:{form.get('sub_tid', '')}" if form.get("is_split") == "1" else ""
            signed = form.get("sign") == top_sign(form, keys.app_secret) and form.get("session") == keys.access_token
        elif url.path == "/order/logisticsAdd":
            params = json.loads(body or "{}")
            channel, order_id, tracking = "DOUYIN", str(params.get("order_id")), str(params.get("logistics_code"))
            parcel = ""
            signed = query.get("sign") == douyin_sign(query, body, keys.app_secret)
            signed = signed and query.get("access_token") == keys.access_token
        elif url.path == "/channels/ec/order/delivery/send":
            params = json.loads(body or "{}")
            delivery = (params.get("delivery_list") or [{}])[0]
            parcel = ",".join(str(d.get("waybill_id")) for d in params.get("delivery_list") or [])
            channel, order_id, tracking = (
                "WECHAT_CHANNELS",
                str(params.get("order_id")),
                str(delivery.get("waybill_id")),
            )
            signed = query.get("access_token") == keys.access_token
        elif url.path.startswith("/orders/v0/orders/") and url.path.endswith("/shipmentConfirmation"):
            params = json.loads(body or "{}")
            channel, order_id = "AMAZON", url.path.split("/")[4]
            package = params.get("packageDetail", {})
            tracking = str(package.get("trackingNumber"))
            items = ",".join(f"{i.get('orderItemId')}x{i.get('quantity')}" for i in package.get("orderItems") or [])
            parcel = f"{package.get('packageReferenceId')}:{items}"
            signed = self.headers.get("x-amz-access-token") == keys.access_token
        else:
            self._send(404, "text/html", b"<html><body>404 Not Found</body></html>")
            return
        act = self.server.next_act(order_id) if signed else Act.AUTH
        self._answer(channel, order_id, tracking, signed, act, parcel)

    def _answer(self, channel: str, order_id: str, tracking: str, signed: bool, act: Act, parcel: str = "") -> None:
        server, key = self.server, (channel, order_id, tracking)
        applied = act in (Act.OK, Act.TIMEOUT)
        with server.lock:
            server.ledger.calls.append(Seen(channel, order_id, tracking, signed, act, parcel))
            if server.ledger.accepted[key] and applied:
                server.ledger.repeats_after_success += 1
                act = Act.ALREADY
            elif applied:
                server.ledger.accepted[key] += 1
        if act is Act.TIMEOUT:
            time.sleep(server.slow_seconds)
            act = Act.OK
        self._reply(channel, act)

    def _reply(self, channel: str, act: Act) -> None:
        if act is Act.HTML:
            self._send(502, "text/html", b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
        elif act is Act.HTTP_429:
            self._send(429, "application/json", b'{"message":"Too Many Requests"}', {"Retry-After": "1"})
        elif act is Act.HTTP_429_BARE:
            self._send(429, "application/json", b'{"message":"Too Many Requests"}')
        elif act is Act.TRUNCATED:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "400")
            self.end_headers()
            self.wfile.write(b'{"code":10000,"msg":"succ')
            self.wfile.flush()
            self.close_connection = True
        elif act is Act.MALFORMED:
            self._send(200, "application/json", b'{"logistics_offline_send_response":{"shipping":{"is_su')
        else:
            status, answer = ANSWERS[channel](act)
            data = b"" if answer is None else json.dumps(answer, ensure_ascii=False).encode()
            self._send(status, "application/json;charset=UTF-8", data)

    def _list_page(self, channel: str, signed: bool, page: dict[str, Any]) -> None:
        """A list call's page, or what `pull_script` has it answer instead."""
        server = self.server
        act = server.next_list_act() if signed else Act.AUTH
        with server.lock:
            server.ledger.list_calls.append((channel, signed, act))
            data = json.dumps(page, ensure_ascii=False).encode()
            if act is Act.REPEAT and channel in server.last_pages:
                data, act = server.last_pages[channel], Act.OK
            elif act is Act.OK:
                server.last_pages[channel] = data
        if act is Act.OK:
            self._send(200, "application/json;charset=UTF-8", data)
        elif act is Act.RATE_LIMITED and channel == "AMAZON":
            self._send(429, "application/json", json.dumps(_amazon(act)[1]).encode())  # SP-API: no Retry-After
        else:
            self._reply(channel, act)

    def _taobao_orders(self, form: dict[str, str]) -> None:
        keys = self.server.keys
        signed = form.get("sign") == top_sign(form, keys.app_secret) and form.get("session") == keys.access_token
        start, end = form.get("start_modified", ""), form.get("end_modified", "")
        page_no, size = int(form.get("page_no", "1")), int(form.get("page_size", "40"))
        changed = [t for t in self.server.orders.get("TAOBAO", []) if start <= t["modified"] <= end]
        changed.sort(key=lambda t: (t["modified"], t["tid_str"]), reverse=True)  # TOP: latest change first
        chunk = changed[(page_no - 1) * size : page_no * size]
        response = {"has_next": page_no * size < len(changed), "trades": {"trade": chunk}, "request_id": "pull"}
        self._list_page("TAOBAO", signed, {"trades_sold_increment_get_response": response})

    def _douyin_orders(self, query: dict[str, str], body: str) -> None:
        keys = self.server.keys
        signed = query.get("sign") == douyin_sign(query, body, keys.app_secret)
        signed = signed and query.get("access_token") == keys.access_token
        params = json.loads(body or "{}")
        start, end = int(params.get("update_time_start", 0)), int(params.get("update_time_end", 0))
        page, size = int(params.get("page", 0)), int(params.get("size", 10))
        changed = [o for o in self.server.orders.get("DOUYIN", []) if start <= o["update_time"] <= end]
        changed.sort(key=lambda o: (o["update_time"], o["order_id"]))
        data = {"shop_order_list": changed[page * size : (page + 1) * size], "page": page, "size": size,
                "total": len(changed)}  # fmt: skip
        answer = {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": data, "log_id": "pull"}
        self._list_page("DOUYIN", signed, answer)

    def _amazon_orders(self, query: dict[str, str]) -> None:
        """getOrders: NextToken pages on from where the token's first page left off (the window it was made for)."""
        server = self.server
        signed = self.headers.get("x-amz-access-token") == server.keys.access_token
        token = query.get("NextToken")
        with server.lock:
            offset, after, before, size = server.next_tokens.get(token, (-1, "", "", 0)) if token else (0, "", "", 0)
        if token and offset < 0:
            body = {"errors": [{"code": "InvalidInput", "message": "Invalid NextToken.", "details": ""}]}
            self._send(400, "application/json", json.dumps(body).encode())
            return
        if not token:
            after, before = query.get("LastUpdatedAfter", ""), query.get("LastUpdatedBefore", "")
            size = int(query.get("MaxResultsPerPage", "100"))
        changed = [o for o in server.orders.get("AMAZON", []) if after <= o["LastUpdateDate"] <= before]
        changed.sort(key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))
        payload: dict[str, Any] = {"Orders": changed[offset : offset + size], "LastUpdatedBefore": before}
        if offset + size < len(changed):
            minted = hashlib.sha256(f"{after}{before}{offset + size}".encode()).hexdigest()[:24]
            with server.lock:
                server.next_tokens[minted] = (offset + size, after, before, size)
            payload["NextToken"] = minted
        self._list_page("AMAZON", signed, {"payload": payload})

    def _send(self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


def make_server(
    keys: ShopKeys | None = None,
    *,
    transient_rate: float = 0.0,
    rate_limit_rate: float = 0.0,
    slow_seconds: float = 2.0,
    seed: int = 16,
    port: int = 0,
) -> ChannelServer:
    server = ChannelServer(("127.0.0.1", port), Handler)
    server.keys = keys or ShopKeys()
    server.script = {}
    server.transient_rate, server.rate_limit_rate = transient_rate, rate_limit_rate
    server.slow_seconds = slow_seconds
    server.ledger = Ledger()
    server.lock = threading.Lock()
    server.rng = random.Random(seed)
    server.orders, server.amazon_items, server.pull_script = {}, {}, []
    server.last_pages, server.next_tokens = {}, {}
    return server


def _beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def taobao_trade(number: int, modified: datetime, status: str = "WAIT_SELLER_SEND_GOODS") -> dict[str, Any]:
    """A trade as `taobao.trades.sold.increment.get` lists it with orderhub's fields."""
    tid = str(3916620000000000000 + number)
    created = modified - timedelta(minutes=5)
    return {
        "tid": int(tid), "tid_str": tid, "type": "fixed", "status": status, "created": _beijing(created),
        "pay_time": _beijing(created + timedelta(seconds=40)), "modified": _beijing(modified), "end_time": "",
        "payment": "188.00", "total_fee": "198.00", "post_fee": "0.00", "discount_fee": "10.00",
        "buyer_nick": "t**3", "buyer_open_uid": f"AAH{number:021d}",
        "orders": {"order": [
            {"oid": int(tid) + 1, "outer_sku_id": "TEA-LJ-250", "sku_id": "5012345678901", "title": "明前龙井 250g",
             "num": 1, "price": "168.00", "status": status},
            {"oid": int(tid) + 2, "outer_sku_id": "CUP-GLASS", "sku_id": "5012345678902", "title": "双层玻璃杯",
             "num": 2, "price": "15.00", "status": status},
        ]},
    }  # fmt: skip


def douyin_order(number: int, updated: datetime, status: int = 2) -> dict[str, Any]:
    """A shop order as `order.searchList` lists it: fen, unix seconds, a masked receiver."""
    order_id = str(6919475900000000000 + number)
    created = int(updated.timestamp()) - 300
    return {
        "order_id": order_id, "shop_id": 4463798, "order_status": status, "create_time": created,
        "pay_time": created + 40, "update_time": int(updated.timestamp()), "order_amount": 8990, "pay_amount": 8990,
        "post_amount": 0, "promotion_amount": 1000, "mask_post_receiver": "李**", "mask_post_tel": "1********92",
        "sku_order_list": [
            {"order_id": str(int(order_id) + 1), "parent_order_id": order_id, "product_name": "保温杯 500ml",
             "sku_id": 1712345678901234, "out_sku_id": "BOTTLE-500", "item_num": 1, "goods_price": 5990},
            {"order_id": str(int(order_id) + 2), "parent_order_id": order_id, "product_name": "杯套",
             "sku_id": 1712345678901235, "out_sku_id": "SLEEVE", "item_num": 2, "goods_price": 2000},
        ],
    }  # fmt: skip


def amazon_order(number: int, updated: datetime, status: str = "Unshipped") -> tuple[dict[str, Any], list[Any]]:
    """An Order as getOrders lists it, and its items as getOrderItems answers them."""
    order_id = f"902-{number // 10_000_000:07d}-{number % 10_000_000:07d}"
    iso = "%Y-%m-%dT%H:%M:%SZ"
    order = {
        "AmazonOrderId": order_id, "PurchaseDate": (updated - timedelta(minutes=10)).astimezone(UTC).strftime(iso),
        "LastUpdateDate": updated.astimezone(UTC).strftime(iso), "OrderStatus": status, "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com", "OrderTotal": {"CurrencyCode": "USD", "Amount": "56.98"},
        "MarketplaceId": "ATVPDKIKX0DER", "OrderType": "StandardOrder",
    }  # fmt: skip
    items = [
        {"ASIN": "B00EXAMPLE1", "OrderItemId": f"{number:014d}", "SellerSKU": "MUG-BLUE", "Title": "Stoneware Mug",
         "QuantityOrdered": 2, "ItemPrice": {"CurrencyCode": "USD", "Amount": "39.98"},
         "ShippingPrice": {"CurrencyCode": "USD", "Amount": "5.00"}},
        {"ASIN": "B00EXAMPLE2", "OrderItemId": f"{number + 1:014d}", "SellerSKU": "COASTER-4", "Title": "Coasters",
         "QuantityOrdered": 1, "ItemPrice": {"CurrencyCode": "USD", "Amount": "14.00"},
         "PromotionDiscount": {"CurrencyCode": "USD", "Amount": "2.00"}},
    ]  # fmt: skip
    return order, items


def stock(server: ChannelServer, channel: str, count: int, start: datetime, *, first: int = 0) -> None:
    """`count` orders of `channel`, changed one second apart from `start`, for the server's order lists."""
    for number in range(first, first + count):
        moment = start + timedelta(seconds=number - first)
        if channel == "AMAZON":
            order, items = amazon_order(number, moment)
            server.orders.setdefault(channel, []).append(order)
            server.amazon_items[order["AmazonOrderId"]] = items
        else:
            made = taobao_trade(number, moment) if channel == "TAOBAO" else douyin_order(number, moment)
            server.orders.setdefault(channel, []).append(made)


@contextmanager
def running(server: ChannelServer) -> Iterator[ChannelServer]:
    """Serves on a background thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
