"""The channel feed injects its upstream changes at the promised local times and nowhere else."""

from __future__ import annotations

from datetime import date

from domain.channels.adapter import normalize
from domain.channels.registry import adapter_for
from domain.errors import UserError
from sim.channel_feed import NEW_STATUS_FROM, SUFFIX_FROM, TYPE_CHANGE_FROM, ZONE, channel_day


def test_injections_start_mid_day_and_clean_payloads_normalize() -> None:
    feed = channel_day(3, date(2026, 1, 22), 20)
    assert len(feed) == 80 and [i.at for i in feed] == sorted(i.at for i in feed)
    starts = {"AMAZON": SUFFIX_FROM, "DOUYIN": NEW_STATUS_FROM, "WECHAT_CHANNELS": TYPE_CHANGE_FROM}
    for item in feed:
        local = item.at.astimezone(ZONE).time()
        if item.injected:
            assert local >= starts[item.channel]
            continue
        assert item.channel == "TAOBAO" or local < starts[item.channel] or item.channel == "DOUYIN"
        normalize(adapter_for(item.channel), item.payload)  # type: ignore[arg-type]
    kinds = {i.injected for i in feed if i.injected}
    assert kinds == {"order_id_suffix=ERR", "order_status=106", "order_price as string"}
    broken = next(i for i in feed if i.injected == "order_price as string")
    try:
        normalize(adapter_for("WECHAT_CHANNELS"), broken.payload)  # type: ignore[arg-type]
    except UserError as error:
        assert error.problems[0].field[-1] == "order_price"
    else:
        raise AssertionError("a string order_price must be refused")
