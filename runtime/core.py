"""The composition root of the domain side: settings in, engine, sessions and keys out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.datadir import private_dir
from domain.db import make_engine, make_session_factory, migrate_async
from domain.errors import Problem
from domain.identity.masking import install_log_masking
from domain.identity.service import BuyerIdentity
from domain.identity.uid import IdentityKey
from domain.intake.vault import Vault
from domain.orders.service import OrderService
from domain.outbox.service import Outbox
from domain.pipeline.channel import ChannelPayloads
from domain.pipeline.courier import CourierPushes
from domain.pipeline.message import Message, in_domain_terms
from domain.pipeline.payment import PaymentNotifications
from domain.pipeline.submit import SubmitOrders
from domain.settings import Settings
from runtime.tracing import instrument_engine


@dataclass
class Core:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    identity: BuyerIdentity

    async def close(self) -> None:
        await self.engine.dispose()

    # Services for a session, and the pipeline's handlers: wired here, once, for every entry point.

    def order_service(self, session: AsyncSession, outbox: Outbox) -> OrderService:
        return OrderService(session, self.identity, outbox, self.settings.payment_deadline_minutes * 60, self.vault)

    def message(
        self,
        after_commit: Callable[[], None] = lambda: None,
        describe: Callable[[Sequence[Problem]], str] = in_domain_terms,
    ) -> Message:
        """A message about to be recorded; `after_commit` runs after each of its units of work commits."""
        return Message(self.sessions, self.vault, self.settings.max_body_bytes, after_commit, describe)

    @property
    def record_joins_work(self) -> bool:
        """Whether a request's record may wait, uncommitted, for the unit of work that processes it. Not on
        SQLite: its one write lock would be held while the request runs, and a second session of the same
        request that writes (a channel payload's own record) would wait for it forever."""
        return self.engine.dialect.name != "sqlite"

    # Built on each use, not kept: they read the settings in force (tests replace them on a running core).

    @property
    def submit_orders(self) -> SubmitOrders:
        return SubmitOrders(self.identity, self.settings.payment_deadline_minutes * 60, self.vault)

    @property
    def payment_notifications(self) -> PaymentNotifications:
        return PaymentNotifications(self.settings)

    @property
    def courier_pushes(self) -> CourierPushes:
        salt = self.settings.kuaidi100_salt
        carriers = {theirs: ours for ours, theirs in self.settings.kuaidi100_companies.items()}
        return CourierPushes(None if salt is None else salt.get_secret_value(), carriers)

    def channel_payloads(self, describe: Callable[[Sequence[Problem]], str] = in_domain_terms) -> ChannelPayloads:
        """The channel payload handler, for the API, replay and bulk intake alike."""
        return ChannelPayloads(self.identity, self.settings.payment_deadline_minutes * 60, describe, self.vault)


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
    instrument_engine(engine)
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
