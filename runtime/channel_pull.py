"""The channel pull wired to this process: the shared channel sender, the settings' base URLs and limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from domain.confirmations.answer import Answer, Reply, SignedRequest
from domain.pull.channels import base_url
from domain.pull.service import PullPolicy, Send, ShopPuller
from domain.settings import Settings
from runtime.process import Runtime


def pull_policy(settings: Settings) -> PullPolicy:
    return PullPolicy(
        overlap=timedelta(seconds=settings.pull_overlap_seconds),
        initial_lookback=timedelta(hours=settings.pull_initial_lookback_hours),
        page_size=settings.pull_page_size,
        max_pages=settings.pull_max_pages,
        max_attempts=settings.pull_max_attempts,
        backoff_seconds=settings.pull_backoff_seconds,
        backoff_cap_seconds=settings.pull_backoff_cap_seconds,
    )


def shop_puller(runtime: Runtime, committed: Callable[[], None] | None = None) -> ShopPuller:
    """Reads the settings in force on each call (tests point the base URLs at local fake servers)."""
    settings = runtime.settings

    def sender(channel: str) -> Send:
        url = base_url(settings, channel)

        async def send(request: SignedRequest) -> Reply | Answer:
            return await runtime.channel_calls.send(url, request, settings.channel_call_timeout_seconds)

        return send

    core = runtime.core
    return ShopPuller(
        core.sessions, core.vault, core.channel_payloads(), sender, pull_policy(settings),
        committed=committed or runtime.relay.notify,
    )  # fmt: skip
