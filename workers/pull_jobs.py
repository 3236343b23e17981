"""Channel pull: the cron that starts one pull per shop, and the pull of one shop."""

from __future__ import annotations

from typing import Any

from domain.pull.service import shops_to_pull
from domain.shops.service import PULL_SHOP_JOB
from runtime.channel_pull import shop_puller
from runtime.queues import OUTBOUND
from workers.jobs import runtime_of, unit_of_work


async def pull_channels(ctx: dict[str, Any]) -> int:
    """Cron: a pull for every shop with pull enabled and usable credentials. The job id is the shop's, so a shop
    whose last pull still runs (a long catch-up) is not pulled twice at once."""
    runtime = runtime_of(ctx)
    async with unit_of_work(ctx, wakes_relay=False) as session:
        shop_ids = await shops_to_pull(session)
    for shop_id in shop_ids:
        await runtime.redis.enqueue_job(
            PULL_SHOP_JOB, shop_id, _job_id=f"pull-shop:{shop_id}", _queue_name=OUTBOUND.name
        )
    return len(shop_ids)


async def pull_shop(ctx: dict[str, Any], shop_id: int) -> str:
    """One shop's run; its outcome is on the shop's pull row as well. The cron's job and one an admin queued may
    meet: a lock per shop (held at most the queue's job timeout) lets one of them through, the other returns."""
    runtime = runtime_of(ctx)
    lock = f"orderhub:pull-shop:{shop_id}"
    if not await runtime.redis.set(lock, "1", nx=True, ex=OUTBOUND.job_timeout):
        return "ALREADY_RUNNING"
    try:
        run = await shop_puller(runtime).pull(shop_id)
    finally:
        await runtime.redis.delete(lock)
    return run.outcome.value
