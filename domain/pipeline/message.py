"""One recorded message on its way through the pipeline: its record, its units of work and its outcome.

A message is recorded before anything can fail, and its outcome tells what became of it. The cheapest
way to keep both promises is one transaction: the record joins the unit of work that processes the
message, and the outcome is written in it too, so the common case costs one commit. When that unit of
work fails, its rollback takes the record along, so the message is then recorded again, alone, with
the outcome and its reason (`close`). What is lost only if the process dies between receiving a message
and committing its unit of work is a message whose sender got no answer and will send it again.

`Message.open` starts that shared transaction; `Message.record` commits the record alone at once,
the way for messages that carry an idempotency key (a concurrent repeat must see the first record
without waiting for its work) and for databases where an open writing transaction would hold the
one write lock (SQLite) while the request runs.

A message may cause several units of work (a GraphQL request of several mutations): it is APPLIED if
any of them was, with the others' refusals in its error, so the stored outcome tells what became of
every part, not only of the last one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import Problem, UserError
from domain.intake.models import Outcome
from domain.intake.vault import Vault
from domain.pipeline.record import Arrival, Recorded, close, mark_outcome, record, store


def in_domain_terms(problems: Sequence[Problem]) -> str:
    return str(UserError(list(problems)))


class Message:
    """Per message, not shared between tasks. `after_commit` runs after every commit that may have
    written outbox rows (the runtime wakes its relay there). `describe` words a refusal as the sender
    reads it (the API spells field names the GraphQL way), for the stored outcome."""

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        vault: Vault,
        max_body_bytes: int,
        after_commit: Callable[[], None] = lambda: None,
        describe: Callable[[Sequence[Problem]], str] = in_domain_terms,
    ) -> None:
        self._sessions = sessions
        self.describe = describe
        self._vault = vault
        self._max_body_bytes = max_body_bytes
        self._after_commit = after_commit
        self._arrival: Arrival | None = None
        self._open: AsyncSession | None = None  # a transaction holding the record, not committed yet
        self.id: int | None = None
        self.applied = False  # a unit of work of this message committed it APPLIED
        self._applied_here = False  # the current unit of work wrote the outcome
        self.outcome_written = False
        self.outcome: Outcome | None = None  # the last outcome committed, for whoever counts messages
        self._outcome_here: Outcome | None = None
        self.refusals: list[str] = []

    @property
    def source(self) -> str | None:
        """Where the message came from, once it arrived (`Arrival.source`)."""
        return None if self._arrival is None else self._arrival.source

    async def record(self, arrival: Arrival) -> Recorded:
        """The record stage alone, committed at once."""
        self._arrival = arrival
        recorded = await record(self._sessions, self._vault, arrival, max_body_bytes=self._max_body_bytes)
        self.id = recorded.message_id
        self.outcome_written = recorded.refusal is not None
        if recorded.refusal is not None:
            self.outcome = Outcome.REJECTED
        return recorded

    async def begin(self, arrival: Arrival) -> Recorded:
        """`open` on a session of its own."""
        return await self.open(self._sessions(), arrival)

    async def open(self, session: AsyncSession, arrival: Arrival) -> Recorded:
        """Record inside `session`'s transaction, which the message's first unit of work (or its outcome)
        commits. The session is the message's from now on: it closes it. A pooled connection the database
        dropped is ours to replace: the record is tried once more on a fresh session."""
        self._arrival = arrival
        try:
            recorded = await store(session, self._vault, arrival, self._max_body_bytes)
        except DBAPIError as exc:
            await session.close()
            if not exc.connection_invalidated:
                raise
            session = self._sessions()
            try:
                recorded = await store(session, self._vault, arrival, self._max_body_bytes)
            except BaseException:
                await session.close()
                raise
        except BaseException:
            await session.close()
            raise
        self._open = session
        self.id = recorded.message_id
        if recorded.refusal is not None:  # stored with its outcome: nothing else will follow
            await self._commit_open()
            self.outcome_written = True
            self.outcome = Outcome.REJECTED
        return recorded

    @property
    def pending(self) -> bool:
        """Recorded but not committed yet: a failure now must record it again."""
        return self._open is not None

    async def _commit_open(self) -> None:
        session, self._open = self._open, None
        assert session is not None
        async with session:
            await session.commit()

    @asynccontextmanager
    async def work(self) -> AsyncIterator[AsyncSession]:
        """A unit of work of this message; the first one carries the uncommitted record. The boundary owns
        the transaction: services flush, this commits, then side effects leave."""
        session, self._open = self._open, None
        self._applied_here = False
        if session is None:
            async with self._sessions() as session, session.begin():
                yield session
        else:
            try:
                async with session:
                    yield session
                    await session.commit()
            except BaseException:
                self.id = None  # rolled back with the work: `close` records it again
                raise
        if self._applied_here:
            self.applied = self.outcome_written = True
            self.outcome = self._outcome_here
        self._after_commit()

    async def applied_in(self, session: AsyncSession) -> None:
        """Closes the message in the same unit of work as the change it caused."""
        await self.close_in(session, Outcome.APPLIED, self._refused_in_part())

    async def close_in(self, session: AsyncSession, outcome: Outcome, error: str | None = None) -> None:
        """Write the outcome in the current unit of work (`work`), committed with it."""
        if self.id is not None:
            await mark_outcome(session, self.id, outcome, error)
            self._applied_here = True
            self._outcome_here = outcome

    def _refused_in_part(self) -> str | None:
        return f"refused in part: {'; '.join(self.refusals)}" if self.refusals else None

    async def refuse(self, reason: str) -> None:
        """One part of the message was refused: REJECTED, unless another part was applied."""
        self.refusals.append(reason or "refused")
        if self.applied:
            await self.close(Outcome.APPLIED, self._refused_in_part(), overwrite=True)
        else:
            await self.close(Outcome.REJECTED, "; ".join(self.refusals), overwrite=True)

    async def close(
        self,
        outcome: Outcome,
        error: str | None = None,
        *,
        overwrite: bool = False,
        release_key: bool = False,
    ) -> None:
        """Write the outcome: in the open transaction (committing the record with it), on the committed
        record, or, after a unit of work rolled the record back, on a new record of the message.
        Without `overwrite`, an outcome already written stays."""
        if self.outcome_written and not overwrite:
            return
        if self._open is not None and self.id is not None:
            await mark_outcome(self._open, self.id, outcome, error, release_key=release_key)
            await self._commit_open()
        elif self.id is not None:
            await close(self._sessions, self.id, outcome, error, only_pending=not self.outcome_written,
                        release_key=release_key)  # fmt: skip
        elif self._arrival is not None:
            async with self._sessions() as session, session.begin():
                again = await store(
                    session, self._vault, self._arrival, self._max_body_bytes, outcome=outcome, error=error
                )
            self.id = again.message_id
        else:
            return
        self.outcome_written = True
        self.outcome = outcome

    async def abandon(self) -> None:
        """A request that ended without an outcome (its client went away, cancelling it): what was received
        stays, recorded again if its unit of work rolled it back. A committed record left without an
        outcome is the sweeper's, as after a crash."""
        lost = self.id is None and self._arrival is not None
        if not self.outcome_written and (self._open is not None or lost):
            await self.close(Outcome.FAILED, "the request ended before its outcome was written")
