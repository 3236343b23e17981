"""Asking WeChat Pay and Alipay about payments orderhub expected and has no voucher for, and posting the answer.

Each answer is a message of its own (source `query:<provider>`, kind `payment-query`), handed to the same
pipeline handler as a notification (`domain.pipeline.payment`): recorded first with its signature verdict,
then posted exactly once under the same money checks, or refused with its reason. A signed answer is a fact to
record, never a reason to skip a check. The question's outcome is then written on the gap
(`domain.ledger.gaps.record_query`), in a unit of work after the posting's; a crash between the two leaves a
gap asked about once more, which finds the voucher and posts nothing twice.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
from sqlmodel import select

from domain.clock import utcnow
from domain.errors import UserError
from domain.intake.models import SignatureVerdict
from domain.ledger.gaps import QUERY_ACTOR, Gap, GapPolicy, GapReason, find_gaps, record_query
from domain.ledger.models import FundVoucher, VoucherKind
from domain.ledger.providers import alipay, alipay_query, wechatpay, wechatpay_query
from domain.ledger.providers.answer import RETRYABLE, QueryOutcome, Reading
from domain.ledger.providers.verdict import Checked, NoticeRejected, load_rsa_private_key, load_rsa_public_key
from domain.ledger.service import PaymentNotice
from domain.pipeline.payment import Notification, NotificationRefused
from domain.pipeline.record import Arrival
from domain.reconcile.models import Resolution
from domain.reconcile.service import resolve_item
from domain.settings import Settings
from runtime.core import Core

log = logging.getLogger(__name__)

KIND = "payment-query"
_POSTINGS = {"POSTED": QueryOutcome.POSTED, "DUPLICATE": QueryOutcome.DUPLICATE, "CONFLICT": QueryOutcome.CONFLICT}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


class ProviderQuery(Protocol):
    @property
    def provider(self) -> str: ...

    async def ask(self, client: httpx.AsyncClient, out_trade_no: str) -> Answer: ...

    def check(self, answer: Answer) -> Checked: ...

    def read(self, answer: Answer) -> Reading: ...


@dataclass(frozen=True)
class WechatPayQuery:
    settings: Settings
    provider: str = wechatpay.PROVIDER

    async def ask(self, client: httpx.AsyncClient, out_trade_no: str) -> Answer:
        s = self.settings
        assert s.wechatpay_mchid and s.wechatpay_merchant_key_path and s.wechatpay_merchant_serial
        target = wechatpay_query.query_target(out_trade_no, s.wechatpay_mchid)
        authorization = wechatpay_query.authorization(
            load_rsa_private_key(s.wechatpay_merchant_key_path), s.wechatpay_mchid, s.wechatpay_merchant_serial,
            "GET", target, b"", int(time.time()), secrets.token_hex(16),
        )  # fmt: skip
        headers = {"Authorization": authorization, "Accept": "application/json", "User-Agent": "orderhub"}
        response = await client.get(s.wechatpay_api_url.rstrip("/") + target, headers=headers)
        return Answer(response.status_code, response.headers, response.content)

    def check(self, answer: Answer) -> Checked:
        s = self.settings
        if not wechatpay_query.must_be_signed(answer.status) and "wechatpay-signature" not in answer.headers:
            return Checked(SignatureVerdict.NOT_APPLICABLE)
        assert s.wechatpay_platform_public_key_path is not None
        key = load_rsa_public_key(s.wechatpay_platform_public_key_path)
        return wechatpay.check_signature(
            answer.headers, answer.body, key, s.wechatpay_platform_serial, utcnow(), s.notification_max_age_seconds
        )

    def read(self, answer: Answer) -> Reading:
        return wechatpay_query.read_answer(answer.status, answer.body)


@dataclass(frozen=True)
class AlipayQuery:
    settings: Settings
    provider: str = alipay.PROVIDER

    async def ask(self, client: httpx.AsyncClient, out_trade_no: str) -> Answer:
        s = self.settings
        assert s.alipay_app_id and s.alipay_app_private_key_path
        key = load_rsa_private_key(s.alipay_app_private_key_path)
        params = alipay_query.query_params(s.alipay_app_id, out_trade_no, key, utcnow())
        response = await client.post(s.alipay_gateway_url, data=params)
        return Answer(response.status_code, response.headers, response.content)

    def check(self, answer: Answer) -> Checked:
        assert self.settings.alipay_public_key_path is not None
        key = load_rsa_public_key(self.settings.alipay_public_key_path)
        return alipay_query.check_signature(answer.status, answer.body, key)

    def read(self, answer: Answer) -> Reading:
        return alipay_query.read_answer(answer.status, answer.body)


def configured_queries(settings: Settings) -> dict[str, ProviderQuery]:
    """The providers orderhub can ask: those with the merchant's key to sign and the platform's key to verify."""
    found: dict[str, ProviderQuery] = {}
    s = settings
    if (
        s.wechatpay_mchid
        and s.wechatpay_merchant_key_path
        and s.wechatpay_merchant_serial
        and (s.wechatpay_platform_public_key_path)
    ):
        found[wechatpay.PROVIDER] = WechatPayQuery(s)
    if s.alipay_app_id and s.alipay_app_private_key_path and s.alipay_public_key_path:
        found[alipay.PROVIDER] = AlipayQuery(s)
    return found


def gap_policy(settings: Settings, providers: set[str]) -> GapPolicy:
    return GapPolicy(
        providers={ch: p for ch, p in settings.payment_query_channels.items() if p in providers},
        after=timedelta(minutes=settings.payment_query_after_minutes),
        window=timedelta(hours=settings.payment_query_window_hours),
        attempts=settings.payment_query_attempts,
    )


@dataclass(frozen=True)
class Asked:
    gap: Gap
    outcome: QueryOutcome
    detail: str


class PaymentQueries:
    def __init__(
        self, core: Core, after_commit: Callable[[], None] = lambda: None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        """`transport` replaces the network (the demo answers as the providers, in-process)."""
        self.core = core
        self.after_commit = after_commit
        self.transport = transport

    async def close_gaps(self, reasons: frozenset[GapReason] = frozenset(GapReason)) -> list[Asked]:
        """One round: every open gap of a configured provider asked about once; a provider that answers 429 is
        left alone for the rest of the round."""
        queries = configured_queries(self.core.settings)
        if not queries:
            return []
        async with self.core.sessions() as session:
            gaps = [g for g in await find_gaps(session, gap_policy(self.core.settings, set(queries)), utcnow())
                    if g.reason in reasons]  # fmt: skip
        asked: list[Asked] = []
        limited: set[str] = set()
        timeout = httpx.Timeout(self.core.settings.payment_query_timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport) as client:
            for gap in gaps:
                query = queries.get(gap.provider)
                if query is None or gap.provider in limited:
                    continue
                done = await self.ask(client, query, gap)
                if done.outcome is QueryOutcome.RATE_LIMITED:
                    limited.add(gap.provider)
                asked.append(done)
        return asked

    async def ask(self, client: httpx.AsyncClient, query: ProviderQuery, gap: Gap) -> Asked:
        asked_at = utcnow()
        try:
            answer = await query.ask(client, gap.out_trade_no)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            return await self._write(Asked(gap, QueryOutcome.UNAVAILABLE, detail), asked_at, None, None)
        reading: Reading | None = None

        def parse() -> PaymentNotice | None:
            nonlocal reading
            reading = query.read(answer)
            if reading.notice is not None or reading.outcome in (QueryOutcome.NOT_PAID, QueryOutcome.NOT_FOUND):
                return reading.notice
            raise NoticeRejected(f"{reading.outcome}: {reading.reason}", SignatureVerdict.VALID)

        arrival = Arrival(
            f"query:{query.provider}", KIND, answer.body, len(answer.body), answer.headers,
            SignatureVerdict.NOT_APPLICABLE, received_at=asked_at,
        )  # fmt: skip
        message = self.core.message(after_commit=self.after_commit)
        notification = Notification(arrival, True, lambda: query.check(answer), parse)
        try:
            posted = await self.core.payment_notifications(message, notification)
        except NotificationRefused as refused:
            outcome = QueryOutcome.BAD_SIGNATURE if refused.status == 401 else _refused(reading)
            return await self._write(Asked(gap, outcome, refused.reason), asked_at, message.id, None)
        assert reading is not None
        outcome = _POSTINGS.get(posted, reading.outcome)
        notice = reading.notice
        voucher = None if notice is None else await self._voucher(notice)
        return await self._write(Asked(gap, outcome, f"{reading.reason}: {posted}"), asked_at, message.id, voucher)

    async def _voucher(self, notice: PaymentNotice) -> int | None:
        async with self.core.sessions() as session:
            return (
                await session.exec(
                    select(FundVoucher.id).where(
                        FundVoucher.provider == notice.provider,
                        FundVoucher.provider_txn_id == notice.provider_txn_id,
                        FundVoucher.kind == VoucherKind.PAYMENT.value,
                    )
                )
            ).first()

    async def _write(self, asked: Asked, asked_at: datetime, message_id: int | None, voucher_id: int | None) -> Asked:
        gap = asked.gap
        async with self.core.sessions() as session, session.begin():
            await record_query(
                session,
                gap,
                asked.outcome,
                asked.detail,
                asked_at,
                voucher_id=voucher_id,
                inbound_message_id=message_id,
            )
            closing = asked.outcome in (QueryOutcome.POSTED, QueryOutcome.DUPLICATE)
            if gap.recon_item_id is not None and closing:
                how = "closed by a payment query" if asked.outcome is QueryOutcome.POSTED else "posted meanwhile"
                note = f"{how}: {gap.provider} voucher {voucher_id}"
                try:
                    await resolve_item(session, gap.recon_item_id, Resolution.EXPLAINED, actor=QUERY_ACTOR, note=note)
                except UserError:  # a person resolved it meanwhile: theirs stands
                    log.info("recon item %s was resolved meanwhile", gap.recon_item_id)
        self.after_commit()
        if asked.outcome in RETRYABLE:
            log.info("payment query for %s at %s: %s", gap.out_trade_no, gap.provider, asked.detail)
        return asked


def _refused(reading: Reading | None) -> QueryOutcome:
    """A refusal after a valid signature: the answer's own failure (429, HTML, ...) or the ledger's refusal."""
    if reading is None or reading.outcome in (QueryOutcome.POSTED, QueryOutcome.NOT_PAID, QueryOutcome.NOT_FOUND):
        return QueryOutcome.REFUSED
    return reading.outcome
