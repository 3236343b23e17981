"""Which channels orderhub confirms shipments to, and each one's call and reading of the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.channels import amazon_api, douyin_api, taobao_api, wechat_channels_api
from domain.confirmations.answer import Answer, Reply, SignedRequest
from domain.confirmations.parcel import Parcel
from domain.orders.channels import Channel
from domain.settings import Settings
from domain.shops.credentials import Credentials


@dataclass(frozen=True)
class ConfirmationApi:
    build: Callable[[Parcel, Credentials, datetime], SignedRequest]
    read: Callable[[Reply], Answer]
    base_url: Callable[[Settings], str]
    per_parcel: bool = True
    """Told of each parcel as it leaves (a split shipment); False: told once, at SHIPPED, of every parcel."""


_TOP = ConfirmationApi(taobao_api.confirm_shipment, taobao_api.read_confirmation, lambda s: s.taobao_api_url)

APIS: dict[Channel, ConfirmationApi] = {
    Channel.TAOBAO: _TOP,
    Channel.TMALL: _TOP,  # Tmall trades are confirmed through the same TOP method
    Channel.DOUYIN: ConfirmationApi(
        douyin_api.confirm_shipment, douyin_api.read_confirmation, lambda s: s.douyin_api_url
    ),
    Channel.WECHAT_CHANNELS: ConfirmationApi(
        lambda parcel, credentials, _now: wechat_channels_api.confirm_shipment(parcel, credentials),
        wechat_channels_api.read_confirmation,
        lambda s: s.wechat_api_url,
        per_parcel=False,  # delivery/send may be called once per order, with its delivery_list
    ),
    Channel.AMAZON: ConfirmationApi(
        amazon_api.confirm_shipment, amazon_api.read_confirmation, lambda s: s.amazon_api_url
    ),
}
"""A WeChat mini-program is the merchant's own shop: there is no channel to tell."""


def api_of(channel: str) -> ConfirmationApi | None:
    try:
        return APIS.get(Channel(channel))
    except ValueError:
        return None
