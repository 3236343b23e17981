"""The handler of payment notifications: record, verify, parse, post, close, in one transaction.

The provider adapters (`domain.ledger.providers`) read each provider's wire format; this handler is the
same for all of them. The signature is checked first because its verdict is part of the record. Then
the message is recorded in the transaction that posts it and writes its outcome, so a notification
costs one commit; refusals (a bad signature, a malformed or misaddressed notice, a field the ledger
cannot hold) are the sender's and commit the record with its REJECTED outcome and reason; a posting
that fails rolls back and the message is recorded alone, FAILED, with the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from domain.channels.upstream import UpstreamKind, notification_fields, observe
from domain.errors import UserError
from domain.intake.models import Outcome, SignatureVerdict
from domain.ledger.checks import refuse_misaddressed
from domain.ledger.providers.verdict import Checked, NoticeRejected, check_storable
from domain.ledger.service import PaymentNotice, PostingOutcome, post_notice
from domain.outbox.service import Outbox
from domain.pipeline.message import Message
from domain.pipeline.record import REFUSAL_STATUS, Arrival, Recorded
from domain.settings import Settings

log = logging.getLogger(__name__)

KIND = "payment-notification"
NOT_CHECKED = Checked(SignatureVerdict.NOT_APPLICABLE)  # a body over the cap is refused unread
IGNORED = "IGNORED"  # the outcome answered for a notification that moves no money


class NotificationRefused(Exception):
    """The sender's problem, with the HTTP status the provider is answered with; also the recorded reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Notification:
    """One notification as it arrived. `check` verifies the signature (it may raise: our own failure,
    such as a key file missing); `parse` reads the notice, None when it moves no money."""

    arrival: Arrival  # its signature verdict is filled in by the handler
    complete: bool
    check: Callable[[], Checked]
    parse: Callable[[], PaymentNotice | None]


class PaymentNotifications:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, message: Message, notification: Notification) -> str:
        """The posting's outcome (POSTED, DUPLICATE, CONFLICT) or IGNORED; raises NotificationRefused."""
        failure: Exception | None = None
        try:
            checked = notification.check() if notification.complete else NOT_CHECKED
        except Exception as exc:  # ours, such as a key file missing: the message is recorded all the same
            checked, failure = Checked(SignatureVerdict.INVALID), exc
        arrival = replace(notification.arrival, signature=checked.verdict)
        recorded = await message.begin(arrival)
        try:
            return await self._handle(message, notification, recorded, checked, failure)
        finally:
            await message.abandon()

    async def _handle(
        self, message: Message, notification: Notification, recorded: Recorded, checked: Checked,
        failure: Exception | None,
    ) -> str:  # fmt: skip
        if recorded.refusal is not None:
            raise NotificationRefused(REFUSAL_STATUS[recorded.refusal], recorded.reason or recorded.refusal)
        if failure is not None:
            await message.close(Outcome.FAILED, f"signature check failed: {type(failure).__name__}: {failure}")
            raise failure
        if checked.problem is not None:
            raise await self._refuse(message, 401, checked.problem)
        try:
            notice = self._notice(message, notification)
        except NotificationRefused as refused:
            raise await self._refuse(message, refused.status, refused.reason) from refused
        try:
            async with message.work() as session:
                provider = notification.arrival.source.removeprefix("payments:")
                await observe(session, UpstreamKind.PAYMENT, provider, [notification_fields(notification.arrival.body)])
                if notice is None:
                    await message.close_in(session, Outcome.APPLIED, "moves no money")
                    return IGNORED
                outbox = Outbox()
                posting = await post_notice(
                    session,
                    notice,
                    outbox=outbox,
                    inbound_message_id=message.id,
                    received_at=notification.arrival.received_at,
                )
                await outbox.flush(session)
                posted = posting.outcome == PostingOutcome.POSTED
                note = None if posted else f"{posting.outcome.lower()} of voucher {posting.voucher_id}"
                await message.close_in(session, Outcome.APPLIED, note)
        except UserError as exc:
            raise await self._refuse(message, 400, str(exc)) from exc
        except Exception as exc:
            await message.close(Outcome.FAILED, f"posting failed: {type(exc).__name__}: {exc}")
            raise
        return posting.outcome

    def _notice(self, message: Message, notification: Notification) -> PaymentNotice | None:
        try:
            notice = notification.parse()
            if notice is not None:
                check_storable(notice)
            return refuse_misaddressed(notice, self.settings)
        except NoticeRejected as exc:
            raise NotificationRefused(exc.status, str(exc)) from exc
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
            log.warning("payment parser let through %s on message %s", type(exc).__name__, message.id)
            raise NotificationRefused(400, f"malformed notification: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _refuse(message: Message, status: int, reason: str) -> NotificationRefused:
        await message.close(Outcome.REJECTED, reason)
        return NotificationRefused(status, reason)
