"""Per-request context: the caller, the recorded inbound message, loaders, and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth.principal import Customer, Partner, Principal, Staff
from domain.access.policy import Scope
from domain.channels.monitor import cleaning_versions
from domain.intake.models import Outcome
from domain.ledger import queries as ledger_queries
from domain.ledger.models import FundVoucher, OrderAdjustment
from domain.orders import queries
from domain.orders.models import OrderEvent, OrderLine
from domain.orders.queries import EVERYONE, Viewer
from domain.orders.supersede import superseded_by
from domain.pipeline.record import close, mark_outcome
from runtime.process import Runtime


class Loaders:
    """One set per request, so a list of orders costs one query per relation, not one per order."""

    def __init__(self, runtime: Runtime) -> None:
        sessions = runtime.core.sessions

        async def load_lines(ids: list[int]) -> list[list[OrderLine]]:
            async with sessions() as session:
                found = await queries.lines_of(session, ids)
            return [found[i] for i in ids]

        async def load_events(ids: list[int]) -> list[list[OrderEvent]]:
            async with sessions() as session:
                found = await queries.events_of(session, ids)
            return [found[i] for i in ids]

        async def load_cleaning(ids: list[int]) -> list[int | None]:
            async with sessions() as session:
                found = await cleaning_versions(session, ids)
            return [found.get(i) for i in ids]

        async def load_successors(ids: list[int]) -> list[int | None]:
            async with sessions() as session:
                found = await superseded_by(session, ids)
            return [found.get(i) for i in ids]

        async def load_adjustments(ids: list[int]) -> list[list[OrderAdjustment]]:
            async with sessions() as session:
                found = await ledger_queries.adjustments_of(session, ids)
            return [found[i] for i in ids]

        async def load_vouchers(ids: list[int]) -> list[list[FundVoucher]]:
            async with sessions() as session:
                found = await ledger_queries.vouchers_of(session, ids)
            return [found[i] for i in ids]

        self.lines: DataLoader[int, list[OrderLine]] = DataLoader(load_lines)
        self.adjustments: DataLoader[int, list[OrderAdjustment]] = DataLoader(load_adjustments)
        self.vouchers: DataLoader[int, list[FundVoucher]] = DataLoader(load_vouchers)
        self.successors: DataLoader[int, int | None] = DataLoader(load_successors)
        self.cleaning: DataLoader[int, int | None] = DataLoader(load_cleaning)
        self.events: DataLoader[int, list[OrderEvent]] = DataLoader(load_events)


class Context(BaseContext):
    def __init__(self, runtime: Runtime, principal: Principal, inbound_message_id: int | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.principal = principal
        self.credentials_expire_at: datetime | None = None  # a websocket's token, checked on every push
        self.inbound_message_id = inbound_message_id
        self._applied_in_work = False
        self._refusals: list[str] = []  # of this request's mutations, for its recorded outcome
        self.loaders = Loaders(runtime)

    @property
    def viewer(self) -> Viewer | None:
        """What orders the caller may see; None means none at all."""
        match self.principal:
            case Customer(buyer_uid=uid):
                return Viewer(buyer_uid=uid)
            case Staff():
                return EVERYONE
            case Partner(scopes=scopes, channels=channels) if (
                Scope.ORDERS_READ in scopes or Scope.ORDERS_WRITE in scopes
            ):
                return EVERYONE if channels is None else Viewer(channels=channels)
        return None

    def read(self) -> AsyncSession:
        return self.runtime.core.sessions()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """The boundary owns the transaction: services flush, this commits, then side effects leave."""
        self._applied_in_work = False
        async with self.runtime.core.sessions() as session, session.begin():
            yield session
        if self._applied_in_work:
            self.request.state.inbound_applied = True
            self._outcome_written()
        self.runtime.relay.notify()

    def _refused_in_part(self) -> str | None:
        return f"refused in part: {'; '.join(self._refusals)}" if self._refusals else None

    async def mark_applied(self, session: AsyncSession) -> None:
        """Closes the recorded request in the same unit of work as the change it caused; refusals of
        the request's other mutations stay in its error."""
        if self.inbound_message_id is not None:
            await mark_outcome(session, self.inbound_message_id, Outcome.APPLIED, self._refused_in_part())
            self._applied_in_work = True

    async def record_outcome(self, outcome: Outcome, error: str | None = None) -> None:
        """A request of several mutations is APPLIED if any of them was, with the others' refusals as
        its error: the stored outcome tells what became of every part, not only of the last one."""
        if self.inbound_message_id is None:
            return
        if outcome is Outcome.REJECTED:
            self._refusals.append(error or "refused")
            error = "; ".join(self._refusals)
            if getattr(self.request.state, "inbound_applied", False):
                outcome, error = Outcome.APPLIED, self._refused_in_part()
        await close(self.runtime.core.sessions, self.inbound_message_id, outcome, error)
        self._outcome_written()

    def _outcome_written(self) -> None:
        """Tells the router's result hook that closing the message again would change nothing."""
        self.request.state.inbound_outcome_written = True
