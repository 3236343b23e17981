"""The adapters orderhub has, by channel."""

from __future__ import annotations

from domain.channels import amazon, douyin, taobao, wechat_channels
from domain.channels.adapter import Adapter
from domain.orders.channels import Channel

ADAPTERS: dict[Channel, Adapter] = {
    Channel.TAOBAO: taobao.ADAPTER,
    Channel.TMALL: taobao.ADAPTER,
    Channel.DOUYIN: douyin.ADAPTER,
    Channel.WECHAT_CHANNELS: wechat_channels.ADAPTER,
    Channel.AMAZON: amazon.ADAPTER,
}


def adapter_for(name: str) -> Adapter | None:
    try:
        return ADAPTERS.get(Channel(name.strip().upper()))
    except ValueError:
        return None
