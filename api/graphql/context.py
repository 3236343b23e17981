"""Per-request context: the caller, the recorded inbound message and its units of work, and loaders."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth.principal import Customer, Partner, Principal, Staff
from api.inbound import new_message
from api.observe import note_caller
from domain.access.policy import Scope
from domain.channels.monitor import cleaning_versions
from domain.confirmations.models import ShipmentConfirmation
from domain.confirmations.queries import confirmations_of
from domain.fulfilment.exceptions import exceptions_of
from domain.fulfilment.models import OrderException, Parcel
from domain.fulfilment.parcels import parcels_of_orders
from domain.fulfilment.warehouses import warehouses_of_cases
from domain.i18n import DEFAULT_LANGUAGE, negotiate, use_language
from domain.i18n.language import supported
from domain.intake.models import Outcome
from domain.ledger import queries as ledger_queries
from domain.ledger.models import FundVoucher, OrderAdjustment
from domain.orders import queries
from domain.orders.commands import OrderSubmission
from domain.orders.models import Order, OrderEvent, OrderLine
from domain.orders.queries import EVERYONE, Viewer
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.orders.supersede import superseded_by
from domain.pipeline.message import Message
from domain.pipeline.submit import Submitted
from runtime.process import Runtime


class Loaders:
    """One set per request, so a list of orders costs one query per relation, not one per order."""

    def __init__(self, runtime: Runtime) -> None:
        sessions = runtime.core.sessions

        async def load_orders(ids: list[int]) -> list[Order | None]:
            async with sessions() as session:
                found = await queries.get_orders(session, EVERYONE, ids)
            return [found.get(i) for i in ids]

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

        async def load_confirmations(ids: list[int]) -> list[list[ShipmentConfirmation]]:
            async with sessions() as session:
                found = await confirmations_of(session, ids)
            return [found.get(i, []) for i in ids]

        async def load_vouchers(ids: list[int]) -> list[list[FundVoucher]]:
            async with sessions() as session:
                found = await ledger_queries.vouchers_of(session, ids)
            return [found[i] for i in ids]

        async def load_parcels(ids: list[int]) -> list[list[Parcel]]:
            async with sessions() as session:
                found = await parcels_of_orders(session, ids)
            return [found[i] for i in ids]

        async def load_exceptions(ids: list[int]) -> list[list[OrderException]]:
            async with sessions() as session:
                found = await exceptions_of(session, ids)
            return [found[i] for i in ids]

        async def load_case_warehouses(ids: list[int]) -> list[str | None]:
            async with sessions() as session:
                found = await warehouses_of_cases(session, ids)
            return [found.get(i) for i in ids]

        # Not cached: a mutation's payload, read after its write, must not get the order an earlier field read.
        self.orders: DataLoader[int, Order | None] = DataLoader(load_orders, cache=False)
        self.lines: DataLoader[int, list[OrderLine]] = DataLoader(load_lines)
        self.case_warehouses: DataLoader[int, str | None] = DataLoader(load_case_warehouses)
        self.exceptions: DataLoader[int, list[OrderException]] = DataLoader(load_exceptions)
        self.parcels: DataLoader[int, list[Parcel]] = DataLoader(load_parcels)
        self.adjustments: DataLoader[int, list[OrderAdjustment]] = DataLoader(load_adjustments)
        self.vouchers: DataLoader[int, list[FundVoucher]] = DataLoader(load_vouchers)
        self.successors: DataLoader[int, int | None] = DataLoader(load_successors)
        self.cleaning: DataLoader[int, int | None] = DataLoader(load_cleaning)
        self.events: DataLoader[int, list[OrderEvent]] = DataLoader(load_events)
        self.confirmations: DataLoader[int, list[ShipmentConfirmation]] = DataLoader(load_confirmations)


def language_of(principal: Principal, accept_language: str | None, merchant_language: str) -> str:
    """A staff account's own choice, then what the request accepts, then the merchant's language."""
    chosen = principal.language if isinstance(principal, Staff) else None
    return supported(chosen) or negotiate(accept_language) or supported(merchant_language) or DEFAULT_LANGUAGE


class Context(BaseContext):
    def __init__(self, runtime: Runtime, principal: Principal, message: Message | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.principal = principal
        self.language = supported(runtime.settings.merchant_language) or DEFAULT_LANGUAGE
        note_caller(principal)
        self.credentials_expire_at: datetime | None = None  # a websocket's token, checked on every push
        # The recorded request (partners' requests are recorded); unrecorded callers' units of work pass through it too.
        self.message = message or new_message(runtime)
        self.loaders = Loaders(runtime)

    def speak(self, accept_language: str | None) -> None:
        """Chooses the language of the human text this request answers with (userErrors, labels, summaries)."""
        self.language = language_of(self.principal, accept_language, self.runtime.settings.merchant_language)

    def speaking(self) -> AbstractContextManager[None]:
        return use_language(self.language)

    @property
    def inbound_message_id(self) -> int | None:
        return self.message.id

    @property
    def staff_actor(self) -> str:
        """How a staff member's change is signed in the records it leaves: `staff:<email>`. Only for fields whose
        permission already admits staff alone."""
        assert isinstance(self.principal, Staff)
        return f"staff:{self.principal.email}"

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

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The boundary owns the transaction: services flush, this commits, then side effects leave. The
        request's first unit of work also commits its record, when the record waited for it."""
        return self.message.work()

    async def mark_applied(self, session: AsyncSession) -> None:
        """Closes the recorded request in the same unit of work as the change it caused; refusals of
        the request's other mutations stay in its error."""
        await self.message.applied_in(session)

    async def record_outcome(self, outcome: Outcome, error: str | None = None) -> None:
        """A request of several mutations is APPLIED if any of them was, with the others' refusals as
        its error: the stored outcome tells what became of every part, not only of the last one."""
        if outcome is Outcome.REJECTED:
            await self.message.refuse(error or "refused")
        else:
            await self.message.close(outcome, error, overwrite=True)

    def provenance(self) -> Provenance:
        """A partner's changes, as the order log names their cause."""
        assert isinstance(self.principal, Partner)
        partner = self.principal
        return Provenance(Source.CHANNEL, f"partner:{partner.name}", self.inbound_message_id, partner.channels)

    async def submit_orders(self, submissions: Sequence[OrderSubmission]) -> Submitted:
        return await self.runtime.core.submit_orders(self.message, submissions, self.provenance())
