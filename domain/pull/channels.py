"""Which channels orderhub pulls orders from, and each one's order list call."""

from __future__ import annotations

from domain.channels import amazon_api, douyin_api, taobao_api
from domain.orders.channels import Channel
from domain.pull.page import PullApi
from domain.settings import Settings

DAY = 86_400

_TOP = PullApi("1", taobao_api.sold_increment, taobao_api.read_sold_increment, taobao_api.trade_payload, DAY)

APIS: dict[Channel, PullApi] = {
    Channel.TAOBAO: _TOP,
    Channel.TMALL: _TOP,
    Channel.DOUYIN: PullApi(
        "0", douyin_api.search_list, douyin_api.read_search_list, douyin_api.order_payload, 7 * DAY
    ),
    Channel.AMAZON: PullApi(
        amazon_api.FIRST,
        amazon_api.get_orders,
        amazon_api.read_orders,
        amazon_api.order_payload,
        30 * DAY,
        lag_seconds=120,
        items=amazon_api.get_order_items,
        read_items=amazon_api.read_order_items,
        order_id=amazon_api.order_id,
    ),
}
"""WeChat Channels pushes every order change to the merchant's callback: there is nothing to pull."""


def pull_api_of(channel: str) -> PullApi | None:
    try:
        return APIS.get(Channel(channel))
    except ValueError:
        return None


def base_url(settings: Settings, channel: str) -> str:
    return (
        settings.amazon_api_url
        if channel == "AMAZON"
        else (settings.douyin_api_url if channel == "DOUYIN" else settings.taobao_api_url)
    )
