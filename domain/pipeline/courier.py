"""The handler of courier tracking pushes (Kuaidi100): record, verify, then apply every event of the push as
carrier evidence, in one unit of work, through the same fulfilment service as a carrier's own events.

A push repeats the parcel's whole history, so an event already recorded changes nothing. A push for a tracking
number no order has is kept (recorded, APPLIED with that note) and opens one UNKNOWN_ORDER case per number;
a push saying the aggregator gave up on the number opens the order's NO_COURIER_RECORD case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.errors import Problems, UserError
from domain.fulfilment.evidence import validate_carrier
from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.kuaidi100 import Push, PushRejected, check_push, parse_push
from domain.fulfilment.models import ExceptionKind
from domain.fulfilment.service import FulfilmentService, find_order_by_reference
from domain.fulfilment.tracking import open_no_courier_record
from domain.i18n import msg
from domain.intake.models import Outcome, SignatureVerdict
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from domain.pipeline.message import Message
from domain.pipeline.record import REFUSAL_STATUS, Arrival

KIND = "courier-push"
ACTOR = "kuaidi100"


class PushRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CourierPushes:
    salt: str | None
    carriers: dict[str, str]  # Kuaidi100 company code -> orderhub carrier code

    async def __call__(self, message: Message, arrival: Arrival) -> str:
        """What became of the push (APPLIED, UNKNOWN_TRACKING_NUMBER, NO_COURIER_RECORD); raises PushRefused."""
        push: Push | None = None
        rejected: PushRejected | None = None
        try:
            push = self._read(arrival.body)
        except PushRejected as exc:
            rejected = exc
        verdict = SignatureVerdict.VALID if rejected is None else rejected.verdict
        recorded = await message.begin(replace(arrival, signature=verdict))
        try:
            if recorded.refusal is not None:
                raise PushRefused(REFUSAL_STATUS[recorded.refusal], recorded.reason or recorded.refusal)
            if rejected is not None or push is None:
                reason = str(rejected)
                await message.close(Outcome.REJECTED, reason)
                raise PushRefused(401 if verdict is not SignatureVerdict.VALID else 400, reason)
            try:
                async with message.work() as session:
                    outcome = await apply_push(session, push, message.id)
                    note = None if outcome == "APPLIED" else outcome.lower().replace("_", " ")
                    await message.close_in(session, Outcome.APPLIED, note)
            except UserError as exc:
                await message.close(Outcome.REJECTED, str(exc))
                raise PushRefused(400, str(exc)) from exc
            return outcome
        finally:
            await message.abandon()

    def _read(self, body: bytes) -> Push:
        if self.salt is None:
            raise PushRejected("Kuaidi100 is not configured (no salt)", SignatureVerdict.INVALID)
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PushRejected(f"body is not a form: {exc}", SignatureVerdict.MISSING) from exc
        check_push(form, self.salt)
        return parse_push(form["param"], self.carriers)


async def apply_push(session: AsyncSession, push: Push, message_id: int | None) -> str:
    outbox = Outbox()
    order = await find_order_by_reference(session, push.number, by_tracking=True)
    if order is None:
        details = {"tracking_number": push.number, "company": push.company, "events": len(push.events)}
        await open_exception(
            session, outbox, ExceptionKind.UNKNOWN_ORDER,
            msg(
                "courier events for tracking number {tracking} ({company}), which no order has",
                tracking=repr(push.number), company=push.company,
            ),
            order_id=None, details=details, dedup_key=f"unknown-tracking:{push.company}:{push.number}",
        )  # fmt: skip
        await outbox.flush(session)
        return "UNKNOWN_TRACKING_NUMBER"
    if push.gave_up:
        details = {"tracking_number": push.number, "company": push.company, "message": push.message}
        summary = msg(
            "the tracking aggregator gave up on {tracking}: {reason}",
            tracking=push.number,
            reason=push.message or msg("no courier record"),
        )
        await open_no_courier_record(session, outbox, order, push.number, summary, utcnow(), details)
        await outbox.flush(session)
        return "NO_COURIER_RECORD"
    service = FulfilmentService(session, outbox)
    by = Provenance(Source.CARRIER, ACTOR, message_id)
    for index, submission in enumerate(reversed(push.events)):  # oldest first, as they happened
        problems = Problems()
        evidence = validate_carrier(submission, ("lastResult", "data", len(push.events) - 1 - index), problems)
        problems.raise_if_any()
        assert evidence is not None
        await service.record(evidence, by)
    return "APPLIED"
