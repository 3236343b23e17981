"""Everything a process needs at run time: the domain core plus Redis, arq and the outbox relay."""

from __future__ import annotations

from dataclasses import dataclass, field

from arq.connections import ArqRedis

from domain.datadir import private_dir
from domain.settings import Settings
from runtime.channel_calls import ChannelCalls
from runtime.core import Core, build_core
from runtime.embedded_redis import EmbeddedRedis
from runtime.outbox_relay import OutboxRelay
from runtime.signin import SignIn
from runtime.webhook_fanout import WebhookFanout


@dataclass
class Runtime:
    core: Core
    redis_url: str
    redis: ArqRedis
    relay: OutboxRelay
    embedded: EmbeddedRedis | None = field(default=None)
    channel_calls: ChannelCalls = field(default_factory=lambda: ChannelCalls(10.0))
    signin: SignIn = field(init=False)

    def __post_init__(self) -> None:
        self.signin = SignIn(self.core)

    @property
    def settings(self) -> Settings:
        return self.core.settings

    async def close(self) -> None:
        await self.relay.stop()
        await self.signin.close()
        await self.channel_calls.close()
        await self.redis.aclose()
        await self.core.close()
        if self.embedded is not None:
            self.embedded.stop()


def resolve_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    if settings.redis_url:
        return settings.redis_url, None
    embedded = EmbeddedRedis(private_dir(settings.data_dir.resolve(), narrow=True) / "redis")
    return embedded.start(), embedded


async def build_runtime(settings: Settings, *, migrate: bool = True, relay: bool = True) -> Runtime:
    core = await build_core(settings, migrate=migrate)
    url, embedded = resolve_redis(settings)
    redis = ArqRedis.from_url(url)
    outbox_relay = OutboxRelay(
        core.sessions,
        redis,
        drain_seconds=settings.shutdown_grace_seconds,
        prefix=settings.pubsub_prefix,
        webhooks=WebhookFanout(settings.webhook_subscriptions_cache_seconds),
    )
    if relay:
        outbox_relay.start()
    calls = ChannelCalls(settings.channel_call_timeout_seconds)
    return Runtime(core, url, redis, outbox_relay, embedded, calls)
