"""Each channel's order list call, signed as the channel checks it, and every answer read to a page or a verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from domain.channels import amazon_api, douyin_api, taobao_api
from domain.confirmations.answer import Answer, Reply, Verdict
from domain.pull.page import Page, Window
from domain.shops.credentials import Credentials
from sim.channel_servers import douyin_sign, top_sign

CREDS = Credentials("12345678", "s3cr3t", "token", marketplace_id="ATVPDKIKX0DER")
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(hours=1), NOW)


def reply(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(status, headers or {"content-type": "application/json"}, data)


def test_taobao_asks_for_the_window_in_beijing_time_signed() -> None:
    request = taobao_api.sold_increment(WINDOW, "3", CREDS, 100, NOW)
    form = dict(parse_qsl(request.body.decode()))
    assert (form["method"], form["start_modified"], form["end_modified"]) == (
        "taobao.trades.sold.increment.get", "2026-12-07 15:00:00", "2026-12-07 16:00:00"
    )  # fmt: skip
    assert (form["page_no"], form["page_size"], form["use_has_next"]) == ("3", "100", "true")
    assert form["sign"] == top_sign(form, CREDS.app_secret)


def test_taobao_pages_on_while_has_next() -> None:
    body = {"trades_sold_increment_get_response": {"has_next": True, "trades": {"trade": [{"tid": 1}]}}}
    page = taobao_api.read_sold_increment(reply(body), "3")
    assert isinstance(page, Page) and (page.orders, page.next_cursor) == ([{"tid": 1}], "4")
    empty = taobao_api.read_sold_increment(reply({"trades_sold_increment_get_response": {"has_next": False}}), "1")
    assert isinstance(empty, Page) and (empty.orders, empty.next_cursor) == ([], None)


def test_douyin_signs_the_sorted_param_json_and_pages_by_total() -> None:
    request = douyin_api.search_list(WINDOW, "0", CREDS, 50, NOW)
    query = dict(request.params)
    assert request.path == "/order/searchList"
    assert query["sign"] == douyin_sign(query, request.body.decode(), CREDS.app_secret)
    params = json.loads(request.body)
    assert (params["update_time_start"], params["update_time_end"]) == (int(WINDOW.start.timestamp()),
                                                                        int(NOW.timestamp()))  # fmt: skip
    data = {"shop_order_list": [{"order_id": "1"}], "page": 0, "size": 1, "total": 2}
    first = douyin_api.read_search_list(reply({"code": 10000, "data": data}), "0")
    last = douyin_api.read_search_list(reply({"code": 10000, "data": data | {"page": 1}}), "1")
    assert isinstance(first, Page) and first.next_cursor == "1"
    assert isinstance(last, Page) and last.next_cursor is None


def test_amazon_asks_by_window_first_then_by_next_token_alone() -> None:
    first = dict(amazon_api.get_orders(WINDOW, amazon_api.FIRST, CREDS, 500, NOW).params)
    assert first == {"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-12-07T07:00:00Z",
                     "LastUpdatedBefore": "2026-12-07T08:00:00Z", "MaxResultsPerPage": "100"}  # fmt: skip
    later = dict(amazon_api.get_orders(WINDOW, "tok", CREDS, 100, NOW).params)
    assert later == {"MarketplaceIds": "ATVPDKIKX0DER", "NextToken": "tok"}
    page = amazon_api.read_orders(reply({"payload": {"Orders": [{"AmazonOrderId": "1"}], "NextToken": "n2"}}), "-")
    assert isinstance(page, Page) and page.next_cursor == "n2"


@pytest.mark.parametrize(
    ("read", "answer", "verdict", "code"),
    [
        (taobao_api.read_sold_increment, reply({"error_response": {"code": 7, "sub_code": "accesscontrol.x"}}),
         Verdict.RATE_LIMITED, "accesscontrol.x"),
        (taobao_api.read_sold_increment, reply({"error_response": {"code": 15, "sub_code": "isv.new:Z9"}}),
         Verdict.REFUSED, "isv.new:Z9"),
        (taobao_api.read_sold_increment, reply(b"<html>502</html>", 502, {"content-type": "text/html"}),
         Verdict.TRANSIENT, "HTML_ERROR_PAGE_502"),
        (taobao_api.read_sold_increment, reply(b'{"trades_sold_incr'), Verdict.TRANSIENT, "MALFORMED_ANSWER_200"),
        (taobao_api.read_sold_increment, reply({"trades_sold_increment_get_response": {"trades": {"trade": 3}}}),
         Verdict.TRANSIENT, "MALFORMED_ANSWER_200"),
        (douyin_api.read_search_list, reply({"code": 90000, "msg": "流量超限"}), Verdict.RATE_LIMITED, "90000"),
        (douyin_api.read_search_list, reply({"code": 77777, "msg": "?"}), Verdict.REFUSED, "77777"),
        (douyin_api.read_search_list, reply({"code": 10000, "data": {"total": 1}}), Verdict.TRANSIENT,
         "MALFORMED_ANSWER_200"),
        (amazon_api.read_orders, reply({"message": "Too Many"}, 429), Verdict.RATE_LIMITED, "HTTP_429"),
        (amazon_api.read_orders, reply({"errors": [{"code": "Unauthorized"}]}, 403), Verdict.CREDENTIALS_REFUSED,
         "Unauthorized"),
        (amazon_api.read_orders, reply({"errors": [{"code": "Teapot"}]}, 418), Verdict.REFUSED, "Teapot"),
    ],
)  # fmt: skip
def test_every_other_answer_is_a_verdict_with_the_channels_code(
    read: object, answer: Reply, verdict: Verdict, code: str
) -> None:
    assert callable(read)
    found = read(answer, "1")
    assert isinstance(found, Answer) and (found.verdict, found.code) == (verdict, code)


def test_a_429_without_retry_after_leaves_the_back_off_to_us() -> None:
    bare = amazon_api.read_orders(reply({}, 429), "-")
    told = amazon_api.read_orders(reply({}, 429, {"retry-after": "7"}), "-")
    assert isinstance(bare, Answer) and bare.retry_after is None
    assert isinstance(told, Answer) and told.retry_after == 7.0


def test_a_pulled_order_is_the_payload_its_adapter_reads() -> None:
    from domain.channels.service import decode
    from domain.errors import Problems
    from sim.channel_servers import amazon_order, douyin_order, taobao_trade

    order, items = amazon_order(7, NOW)
    for channel, body in (
        ("TAOBAO", taobao_api.trade_payload(taobao_trade(7, NOW))),
        ("DOUYIN", douyin_api.order_payload(douyin_order(7, NOW))),
        ("AMAZON", amazon_api.order_payload(order, {"OrderItems": items})),
    ):
        adapter, payload = decode(channel, body)
        problems = Problems()
        submission = adapter.parse(payload, problems)
        assert problems.items == [] and submission is not None and len(submission.lines) == 2, channel
