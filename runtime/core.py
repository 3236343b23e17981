"""The composition root of the domain side: settings in, engine, sessions and keys out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.datadir import private_dir
from domain.db import make_engine, make_session_factory, migrate_async
from domain.identity.masking import install_log_masking
from domain.identity.service import BuyerIdentity
from domain.identity.uid import IdentityKey
from domain.intake.vault import Vault
from domain.pipeline.channel import ChannelPayloads
from domain.settings import Settings


@dataclass
class Core:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    identity: BuyerIdentity

    async def close(self) -> None:
        await self.engine.dispose()

    def channel_payloads(self) -> ChannelPayloads:
        """The channel payload handler, for the API, replay and bulk intake alike."""
        return ChannelPayloads(self.identity, self.settings.payment_deadline_minutes * 60)


def identity_keys(settings: Settings) -> list[IdentityKey]:
    keys = [IdentityKey(settings.identity_key_version, settings.secret("identity_key").encode())]
    if settings.identity_previous_key is not None:
        previous = settings.identity_previous_key.get_secret_value().encode()
        keys.append(IdentityKey(settings.identity_key_version - 1, previous))
    return keys


async def build_core(settings: Settings, *, migrate: bool = True) -> Core:
    """Also masks phone-like digits in every log record of the process: errors quote what senders wrote."""
    install_log_masking()
    url = settings.resolved_database_url()
    if settings.database_url is None:  # the embedded default keeps its database in the data directory
        private_dir(settings.data_dir.resolve(), narrow=True)
    if migrate:
        await migrate_async(url)
    engine = make_engine(url)
    return Core(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        vault=Vault(settings.secret("vault_key")),
        identity=BuyerIdentity(
            identity_keys(settings),
            settings.phone_region,
            merge_window_s=settings.merge_window_seconds,
            suggestion_window_s=settings.suggestion_window_hours * 3600,
        ),
    )
