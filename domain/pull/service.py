"""Pulling a shop's orders from its channel, for merchants without a bridge to push them.

Each page is recorded in the raw mirror as pushed payloads are (one inbound message per order, in the envelope
the channel's order detail call answers with) and goes through the same channel payload handler, so cleaning
rules, drift alerts and replay apply, and a pushed and a pulled copy of one order make one order. The page's
orders, their outcomes and the shop's cursor commit together: the checkpoint never passes an order that is not
in. Whatever the channel answers ends the run with a named outcome on the shop's pull row; none is silent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.channels.service import MAX_PAYLOAD_BYTES, record_payloads
from domain.clock import utcnow
from domain.confirmations.answer import AGAIN, Answer, Reply, SignedRequest, Verdict, clip, delay_seconds
from domain.i18n import Message, msg
from domain.i18n.stored import joined, render_sentence, stored_sentences
from domain.intake.models import InboundMessage, Outcome, SignatureVerdict
from domain.intake.vault import Vault
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from domain.pipeline.channel import ChannelMessage, ChannelPayloads
from domain.pipeline.record import Arrival, store
from domain.pull.channels import pull_api_of
from domain.pull.models import ShopPull
from domain.pull.page import Page, PullApi, Window
from domain.shops.credentials import Credentials, open_sealed
from domain.shops.models import Shop
from domain.shops.service import refuse_credentials

log = logging.getLogger(__name__)

T = TypeVar("T")
Send = Callable[[SignedRequest], Awaitable[Reply | Answer]]
Sessions = Callable[[], AsyncSession]


class PullOutcome(StrEnum):
    CAUGHT_UP = "CAUGHT_UP"
    MORE_PAGES = "MORE_PAGES"  # the run's page budget ran out: the next run goes on from the cursor
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"  # timeouts, 5xx, HTML error pages, cut or malformed bodies, after every attempt
    REFUSED = "REFUSED"  # an error code the channel gives for our request, or one nobody documented
    CREDENTIALS_REFUSED = "CREDENTIALS_REFUSED"
    REPEATED_PAGE = "REPEATED_PAGE"
    NO_CREDENTIALS = "NO_CREDENTIALS"
    NOT_PULLED = "NOT_PULLED"  # a channel that pushes everything (WeChat Channels), or pull disabled


@dataclass(frozen=True)
class PullPolicy:
    overlap: timedelta
    initial_lookback: timedelta
    page_size: int
    max_pages: int
    max_attempts: int
    backoff_seconds: float
    backoff_cap_seconds: float


@dataclass
class PullRun:
    shop_id: int
    outcome: PullOutcome = PullOutcome.CAUGHT_UP
    pages: int = 0
    orders: int = 0
    applied: int = 0
    rejected: int = 0
    notes: list[Message] = field(default_factory=list)
    clamped: datetime | None = None


@dataclass
class _State:
    shop: Shop
    row: ShopPull
    credentials: Credentials


def last_note_of(row: ShopPull) -> str | None:
    """The last run's notes in the reader's language (the channel's own code and words as it gave them); as
    written for a run noted before."""
    if row.last_note is None:
        return None
    return render_sentence(row.sentences, "last_note", row.last_note)


async def enable_pull(session: AsyncSession, shop_id: int, enabled: bool = True) -> ShopPull:
    row = await session.get(ShopPull, shop_id)
    if row is None:
        row = ShopPull(shop_id=shop_id, enabled=enabled)
        session.add(row)
    else:
        row.enabled = enabled
    await session.flush()
    return row


async def shops_to_pull(session: AsyncSession) -> list[int]:
    """Shops with pull enabled and credentials the channel has not refused."""
    query = (
        select(Shop.id)
        .join(ShopPull, col(ShopPull.shop_id) == col(Shop.id))
        .where(col(ShopPull.enabled), col(Shop.credentials).is_not(None), col(Shop.credentials_refused_at).is_(None))
        .order_by(col(Shop.id))
    )
    return [int(i) for i in (await session.exec(query)).all() if i is not None]


def _read_page(api: PullApi, cursor: str, reply: Reply) -> Page | Answer:
    return api.read(reply, cursor)


class ShopPuller:
    """One shop's run: windows walked page by page until caught up, the page budget spent, or the channel
    answering something other than a page."""

    def __init__(
        self,
        sessions: Sessions,
        vault: Vault,
        handler: ChannelPayloads,
        send: Callable[[str], Send],
        policy: PullPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions, self.vault, self.handler, self.send = sessions, vault, handler, send
        self.policy, self.clock, self.sleep, self.committed = policy, clock, sleep, committed

    async def pull(self, shop_id: int) -> PullRun:
        run = PullRun(shop_id)
        async with self.sessions() as session, session.begin():
            state = await self._load(session, shop_id, run)
        if state is None:
            await self._finish(run)
            return run
        api = pull_api_of(state.shop.channel)
        assert api is not None
        send = self.send(state.shop.channel)
        row, now = state.row, self.clock()
        if row.checkpoint is not None and row.checkpoint > now:
            run.notes.append(
                msg(
                    "checkpoint {checkpoint} is in the future: clamped to {now}",
                    checkpoint=row.checkpoint.isoformat(),
                    now=now.isoformat(),
                )
            )
            row.checkpoint = run.clamped = now
            row.window_start = row.window_end = row.cursor = None
        while run.pages < self.policy.max_pages:
            window, cursor = self._window(api, row, now)
            if window is None:
                return await self._finish(run)
            request = api.build(window, cursor, state.credentials, self.policy.page_size, now)
            page = await self._call(send, request, partial(_read_page, api, cursor), run, state)
            if page is None:
                return await self._finish(run)
            if row.cursor is not None and page.fingerprint == row.last_page_hash:
                run.outcome = PullOutcome.REPEATED_PAGE
                repeated = msg(
                    "page {cursor} of {start}..{end} repeats the previous page: "
                    "stopped; the next run asks for it again",
                    cursor=cursor,
                    start=window.start.isoformat(),
                    end=window.end.isoformat(),
                )
                run.notes.append(repeated)
                return await self._finish(run)
            payloads = await self._payloads(api, send, page, state, run, now)
            if payloads is None:
                return await self._finish(run)
            await self._apply(state, window, page, payloads, run)
        run.outcome = PullOutcome.MORE_PAGES
        return await self._finish(run)

    async def _load(self, session: AsyncSession, shop_id: int, run: PullRun) -> _State | None:
        shop = await session.get(Shop, shop_id)
        row = await session.get(ShopPull, shop_id)
        if shop is None or row is None or not row.enabled or pull_api_of(shop.channel) is None:
            run.outcome = PullOutcome.NOT_PULLED
            return None
        if shop.credentials is None or shop.credentials_refused_at is not None:
            run.outcome = PullOutcome.NO_CREDENTIALS
            return None
        session.expunge(row)
        return _State(shop, row, open_sealed(self.vault, shop.credentials))

    def _window(self, api: PullApi, row: ShopPull, now: datetime) -> tuple[Window | None, str]:
        """The window in progress, or the next one: from `overlap` before the checkpoint to now (less the channel's
        lag), at most the channel's longest window. None when the checkpoint has caught up."""
        if row.cursor is not None and row.window_start is not None and row.window_end is not None:
            return Window(row.window_start, row.window_end), row.cursor
        end_limit = now - timedelta(seconds=api.lag_seconds)
        if row.checkpoint is not None and row.checkpoint >= end_limit:
            return None, api.first_cursor
        start = (row.checkpoint - self.policy.overlap) if row.checkpoint else now - self.policy.initial_lookback
        end = min(end_limit, start + timedelta(seconds=api.max_window_seconds))
        row.window_start, row.window_end, row.cursor, row.last_page_hash = start, end, api.first_cursor, None
        return Window(start, end), api.first_cursor

    async def _call(
        self, send: Send, request: SignedRequest, read: Callable[[Reply], T | Answer], run: PullRun, state: _State
    ) -> T | None:
        """The channel's reading of one call, tried again on throttling and transient failures with back-off;
        None once the run must stop (its outcome and note set)."""
        answer: Answer | None = None
        reply: Reply | Answer | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            reply = await send(request)
            read_back = reply if isinstance(reply, Answer) else read(reply)
            if not isinstance(read_back, Answer):
                return read_back
            answer = read_back
            if answer.verdict not in AGAIN or attempt == self.policy.max_attempts:
                break
            delay = delay_seconds(answer, attempt, self.policy.backoff_seconds, self.policy.backoff_cap_seconds)
            run.notes.append(msg("{code}: backed off {seconds} s", code=answer.code, seconds=f"{delay:g}"))
            await self.sleep(delay)
        assert answer is not None
        run.outcome = {
            Verdict.RATE_LIMITED: PullOutcome.RATE_LIMITED,
            Verdict.TRANSIENT: PullOutcome.UNAVAILABLE,
            Verdict.CREDENTIALS_REFUSED: PullOutcome.CREDENTIALS_REFUSED,
        }.get(answer.verdict, PullOutcome.REFUSED)
        kept = await self._record_answer(state.shop.channel, reply, answer)
        said = answer.ours or answer.message
        run.notes.append(msg("{code}: {message} (inbound message {message_id})", code=answer.code, message=said,
                             message_id=kept))  # fmt: skip
        if answer.verdict is Verdict.CREDENTIALS_REFUSED:
            outbox = Outbox()
            async with self.sessions() as session, session.begin():
                await refuse_credentials(session, outbox, state.shop.id or 0, f"{answer.code}: {answer.message}")
                await outbox.flush(session)
            self.committed()
        return None

    async def _record_answer(self, channel: str, reply: Reply | Answer | None, answer: Answer) -> int:
        """The answer that ended the run, in the raw mirror beside the pages (REJECTED, with the channel's code):
        an HTML error page or a cut body is kept as the channel sent it, for whoever investigates."""
        body = reply.body if isinstance(reply, Reply) else b""
        headers = reply.headers if isinstance(reply, Reply) else {}
        arrival = Arrival(f"pull:{channel}", "list-answer", body[:MAX_PAYLOAD_BYTES], len(body), headers,
                          SignatureVerdict.NOT_APPLICABLE)  # fmt: skip
        error = f"{answer.verdict} {answer.code}: {answer.message}"
        async with self.sessions() as session, session.begin():
            stored = await store(session, self.vault, arrival, MAX_PAYLOAD_BYTES, outcome=Outcome.REJECTED, error=error)
        return stored.message_id

    async def _payloads(
        self, api: PullApi, send: Send, page: Page, state: _State, run: PullRun, now: datetime
    ) -> list[bytes] | None:
        if api.items is None or api.read_items is None or api.order_id is None:
            return [api.payload(order, None) for order in page.orders]
        payloads = []
        for order in page.orders:
            items: dict[str, Any] | None = await self._call(
                send, api.items(api.order_id(order), state.credentials, now), api.read_items, run, state
            )
            if items is None:
                return None
            payloads.append(api.payload(order, items))
        return payloads

    async def _apply(self, state: _State, window: Window, page: Page, payloads: list[bytes], run: PullRun) -> None:
        """Record the page's orders (committed on their own, as every inbound message is), then apply them and move
        the cursor in one unit of work. The same bytes recorded before (the overlap, or a bridge's push) are applied
        again only if their first record never got an outcome (a run that stopped between the two commits)."""
        shop, row = state.shop, state.row
        recorded = await record_payloads(self.sessions, self.vault, shop.channel, payloads) if payloads else []
        actor = f"pull:{shop.channel}:{shop.code}"
        seen = [r.message_id for r in recorded if not r.is_new]
        last = page.next_cursor is None
        values: dict[str, Any] = {
            "cursor": page.next_cursor, "last_page_hash": None if last else page.fingerprint,
            "pages": col(ShopPull.pages) + 1, "orders": col(ShopPull.orders) + len(payloads),
        }  # fmt: skip
        if last:
            values |= {"checkpoint": window.end, "window_start": None, "window_end": None}
        else:
            values |= {"window_start": window.start, "window_end": window.end}
        async with self.sessions() as session, session.begin():
            pending = set()
            if seen:
                query = select(InboundMessage.id).where(
                    col(InboundMessage.id).in_(seen), col(InboundMessage.outcome) == Outcome.PENDING
                )
                pending = set((await session.exec(query)).all())
            messages, given = [], set()
            for r, body in zip(recorded, payloads, strict=True):
                if r.refusal is None and (r.is_new or r.message_id in pending) and r.message_id not in given:
                    given.add(r.message_id)  # a page listing one order twice gives its message once
                    by = Provenance(Source.CHANNEL, actor, r.message_id)
                    messages.append(ChannelMessage(r.message_id, shop.channel, body, by))
            handled = await self.handler.process_batch(session, messages) if messages else []
            await session.exec(update(ShopPull).where(col(ShopPull.shop_id) == row.shop_id).values(**values))
        self.committed()
        row.cursor, row.last_page_hash = page.next_cursor, values["last_page_hash"]
        if last:
            row.checkpoint, row.window_start, row.window_end = window.end, None, None
        run.pages += 1
        run.orders += len(payloads)
        run.applied += sum(1 for h in handled if h.outcome is Outcome.APPLIED)
        run.rejected += sum(1 for h in handled if h.outcome is Outcome.REJECTED)

    async def _finish(self, run: PullRun) -> PullRun:
        """The run's outcome and notes, on the shop's pull row; a clamped checkpoint is written here too."""
        said = joined(run.notes)
        note = clip(said) if said is not None else None
        values: dict[str, Any] = {
            "last_run_at": self.clock(), "last_outcome": run.outcome.value, "last_note": note,
            "sentences": stored_sentences(last_note=said),
        }  # fmt: skip
        if run.clamped is not None and run.pages == 0:  # no page moved it since: the clamp itself is written
            values |= {"checkpoint": run.clamped, "window_start": None, "window_end": None, "cursor": None}
        async with self.sessions() as session, session.begin():
            await session.exec(update(ShopPull).where(col(ShopPull.shop_id) == run.shop_id).values(**values))
        log.info("pull shop %s: %s, %s page(s), %s order(s) %s", run.shop_id, run.outcome, run.pages, run.orders,
                 note or "")  # fmt: skip
        return run
