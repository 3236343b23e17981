"""Apply ship requests and physical evidence to orders.

A person's click records only the request. Warehouse and carrier evidence moves an order only when the
state machine and the stored shipped rule agree; anything else is kept, logged on the order and opened
as an exception, so no evidence changes a status silently and none disappears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.clock import utcnow
from domain.columns import check_note
from domain.confirmations.service import request_confirmation
from domain.errors import UserError
from domain.fulfilment.decisions import SENTENCE, labelled
from domain.fulfilment.errors import FulfilmentErrorCode
from domain.fulfilment.evidence import OUTBOUND, SCANS, Evidence, EvidenceKind
from domain.fulfilment.exceptions import open_exception
from domain.fulfilment.models import EvidenceOutcome, ExceptionKind, FulfilmentEvidence, OrderException
from domain.fulfilment.parcels import coverage, mark_delivered, order_of_tracking, record_parcels
from domain.fulfilment.rule import ShippedRule, current_rule, judge_outbound
from domain.health.customer_refs import CustomerReport, record_customer_ref
from domain.health.models import ExternalSystem
from domain.i18n import Message, msg, render
from domain.i18n.stored import restored, stored, stored_sentences
from domain.orders.models import Order
from domain.orders.service import Change, Provenance, append_event, save_order
from domain.orders.status import (
    NOT_TO_SHIP,
    PHYSICAL_SOURCES,
    EventType,
    OrderStatus,
    Source,
    TransitionRefused,
    decide,
    rank,
)
from domain.outbox.service import Outbox
from domain.prediction.service import schedule_prediction
from domain.sql import dialect, insert_ignore

NOTIFY_SHIPPED_JOB = "notify_customer_shipped"
"""The outbox job for a parcel that left. The name is what queued rows carry, so it stays; until a push provider
exists the job only logs the notice owed (`workers.fulfilment_jobs.record_shipped_notice`)."""
S = OrderStatus

_MILESTONES: dict[EvidenceKind, tuple[EventType, str]] = {
    EvidenceKind.SCAN_PICKED: (EventType.ORDER_PICKED, "picked_at"),
    EvidenceKind.SCAN_PACKED: (EventType.ORDER_PACKED, "packed_at"),
}
_FLOOR_SCANS = frozenset({EvidenceKind.SCAN_PICKED, EvidenceKind.SCAN_PACKED, EvidenceKind.SCAN_WEIGHED})


class PhysicalTimeRefused(Exception):
    """Raised when anything but a warehouse or a carrier tries to write a physical time."""


@dataclass
class Recorded:
    evidence_id: int
    order_id: int | None
    outcome: EvidenceOutcome
    decision: str
    repeated: bool = False
    exception_ids: list[int] = field(default_factory=list)
    sentence: Message | None = None
    """The decision with its statuses as labels, in each reader's language; None for evidence recorded before."""

    def decide(self, decision: Message) -> None:
        """`decision` names statuses by their codes: its English is what the evidence row and the log keep."""
        self.decision, self.sentence = str(decision), labelled(decision)

    @property
    def said(self) -> str:
        """The decision in the language of the work at hand."""
        return self.decision if self.sentence is None else render(self.sentence)


def physical_times(by: Provenance, **times: datetime | None) -> dict[str, datetime | None]:
    """The only way a physical time reaches an order row: refused for staff, customers and channels."""
    if by.source not in PHYSICAL_SOURCES:
        raise PhysicalTimeRefused(f"{by.source} may not set {', '.join(times)}: only warehouse or carrier evidence")
    return times


async def find_order_by_reference(session: AsyncSession, reference: str, by_tracking: bool) -> Order | None:
    column = Order.tracking_number if by_tracking else Order.channel_order_id
    query = select(Order).where(column == reference).order_by(col(Order.id)).limit(2)
    lock = dialect(session) == "postgresql"
    if lock:
        query = query.with_for_update()
    rows = list((await session.exec(query)).all())
    if by_tracking and not rows:  # a second parcel's number is its parcel's, not the order's
        order_id = await order_of_tracking(session, reference)
        found = None if order_id is None else await session.get(Order, order_id, with_for_update=lock)
        rows = [] if found is None else [found]
    if len(rows) > 1:
        raise UserError.one(
            ("tracking_number" if by_tracking else "delivery_order_code",),
            msg("{reference} matches more than one order", reference=repr(reference)),
            FulfilmentErrorCode.AMBIGUOUS_ORDER,
        )
    return rows[0] if rows else None


class FulfilmentService:
    """The caller owns the session and commits; this flushes."""

    def __init__(self, session: AsyncSession, outbox: Outbox) -> None:
        self.session = session
        self.outbox = outbox

    async def request_shipment(
        self, order_id: int, by: Provenance, requested_at: datetime | None = None, note: str | None = None
    ) -> Order:
        """Records the click and nothing more: no physical time, no customer notification."""
        check_note("note", note)
        order = await self.session.get(Order, order_id, with_for_update=dialect(self.session) == "postgresql")
        if order is None:
            raise UserError.one(("order_id",), msg("no such order"), FulfilmentErrorCode.NOT_FOUND)
        now = utcnow()
        moment = requested_at or now
        if moment > now + timedelta(minutes=(await current_rule(self.session)).clock_skew_minutes):
            raise UserError.one(
                ("requested_at",), msg("a ship request cannot be in the future"), FulfilmentErrorCode.CLOCK_SKEW
            )
        if moment < order.placed_at:
            raise UserError.one(
                ("requested_at",), msg("a ship request cannot precede the order"), FulfilmentErrorCode.INVALID_TIME
            )
        if order.status == S.SHIP_REQUESTED:
            return order  # a second click changes nothing
        try:
            status = decide(S(order.status), EventType.SHIP_REQUESTED, by.source)
        except TransitionRefused as refused:
            raise UserError.one(("order_id",), refused.message, refused.code) from refused
        await append_event(
            self.session, self.outbox, order, Change(EventType.SHIP_REQUESTED, status, moment, {"note": note}), by
        )
        values = {"status": status.value, "ship_requested_at": moment, "stage_entered_at": moment}
        await save_order(self.session, order, {**values, **schedule_prediction(self.outbox, order)})
        await self.outbox.flush(self.session)
        return order

    async def withdraw_shipment(
        self, order_id: int, by: Provenance, reason: str, withdrawn_at: datetime | None = None
    ) -> Order:
        """Takes back a ship click before the warehouse acts: the order is PAID again and its request time cleared."""
        if not reason.strip():
            raise UserError.one(("reason",), msg("say why the ship request is withdrawn"), FulfilmentErrorCode.REQUIRED)
        check_note("reason", reason)
        order = await self.session.get(Order, order_id, with_for_update=dialect(self.session) == "postgresql")
        if order is None:
            raise UserError.one(("order_id",), msg("no such order"), FulfilmentErrorCode.NOT_FOUND)
        try:
            status = decide(S(order.status), EventType.SHIP_REQUEST_WITHDRAWN, by.source)
        except TransitionRefused as refused:
            raise UserError.one(("order_id",), refused.message, refused.code) from refused
        moment = withdrawn_at or utcnow()
        change = Change(EventType.SHIP_REQUEST_WITHDRAWN, status, moment, {"reason": reason.strip()})
        await append_event(self.session, self.outbox, order, change, by)
        values = {"status": status.value, "ship_requested_at": None, "stage_entered_at": moment}
        await save_order(self.session, order, values)
        await self.outbox.flush(self.session)
        return order

    async def record(self, evidence: Evidence, by: Provenance) -> Recorded:
        """Idempotent on the partner's event id (or dedup business code): a resend returns the first outcome."""
        if by.source is not evidence.source:
            raise PhysicalTimeRefused(f"{by.source} may not send {evidence.source} evidence")
        evidence_id = await insert_ignore(
            self.session, FulfilmentEvidence, self._evidence_row(evidence, by), ("source", "event_key")
        )
        if evidence_id is None:
            prior = (
                await self.session.exec(
                    select(FulfilmentEvidence).where(
                        FulfilmentEvidence.source == evidence.source.value,
                        FulfilmentEvidence.event_key == evidence.event_key,
                    )
                )
            ).one()
            assert prior.id is not None
            sentence = restored((prior.sentences or {}).get("decision"))
            outcome = EvidenceOutcome(prior.outcome)
            return Recorded(prior.id, prior.order_id, outcome, prior.decision, repeated=True, sentence=sentence)
        order = await find_order_by_reference(self.session, evidence.order_reference, evidence.by_tracking)
        if order is not None and by.channels is not None and order.channel not in by.channels:
            served = ", ".join(sorted(by.channels)) or "no channel"
            raise UserError.one(
                ("tracking_number" if evidence.by_tracking else "delivery_order_code",),
                msg("this API key serves {served}, not {channel}", served=served, channel=order.channel),
                FulfilmentErrorCode.CHANNEL_NOT_ALLOWED,
            )
        result = Recorded(evidence_id, None if order is None else order.id, EvidenceOutcome.NOTED, "")
        if order is None:
            await self._hold(
                result,
                None,
                evidence,
                by,
                ExceptionKind.UNKNOWN_ORDER,
                msg("no order {reference}", reference=repr(evidence.order_reference)),
            )
        else:
            await self._apply(result, order, evidence, by, await current_rule(self.session))
            if evidence.customer_id is not None:
                assert order.id is not None
                report = CustomerReport(ExternalSystem.WMS, evidence.customer_id, evidence.customer_grade)
                await record_customer_ref(self.session, order.id, report, by.actor)
        await self.session.exec(
            update(FulfilmentEvidence)
            .where(col(FulfilmentEvidence.id) == evidence_id)
            .values(order_id=result.order_id, outcome=result.outcome.value, **self._decided(result))
        )
        await self.outbox.flush(self.session)
        return result

    async def accept_held(self, exception_id: int, accepted_by: str) -> Order:
        """A person accepts held outbound evidence: the order ships with the evidence's own time and source."""
        case = await self.session.get(OrderException, exception_id)
        if case is None or case.evidence_id is None or case.order_id is None:
            raise UserError.one(
                ("exception_id",), msg("this exception holds no evidence to apply"), FulfilmentErrorCode.NOT_ALLOWED
            )
        row = await self.session.get(FulfilmentEvidence, case.evidence_id)
        order = await self.session.get(Order, case.order_id, with_for_update=dialect(self.session) == "postgresql")
        assert row is not None and row.id is not None and order is not None
        kind = EvidenceKind(row.kind)
        if kind not in OUTBOUND or S(order.status) not in (S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.PARTIALLY_SHIPPED):
            raise UserError.one(
                ("accept_held_evidence",),
                msg("{kind} cannot ship an order that is {status}", kind=kind, status=order.status),
                FulfilmentErrorCode.ILLEGAL_TRANSITION,
            )
        evidence = Evidence(
            Source(row.source), row.event_key, kind, row.order_reference, False, row.occurred_at, row.warehouse_code,
            row.zone, row.station, row.operator, row.carrier_code, row.tracking_number, row.details,
        )  # fmt: skip
        result = Recorded(row.id, order.id, EvidenceOutcome.HELD, row.decision)
        by = Provenance(evidence.source, f"{evidence.source.value.lower()} evidence accepted by {accepted_by}")
        assert order.id is not None
        await record_parcels(self.session, order.id, evidence, row.id, evidence.occurred_at)
        await self.ship(result, order, evidence, by, msg("held evidence accepted by {person}", person=accepted_by))
        await self.session.exec(
            update(FulfilmentEvidence)
            .where(col(FulfilmentEvidence.id) == row.id)
            .values(outcome=result.outcome.value, **self._decided(result))
        )
        await self.outbox.flush(self.session)
        return order

    async def _apply(self, result: Recorded, order: Order, ev: Evidence, by: Provenance, rule: ShippedRule) -> None:
        status = S(order.status)
        now = utcnow()
        if status in NOT_TO_SHIP:
            await self._hold(
                result,
                order,
                ev,
                by,
                ExceptionKind.EVENT_FOR_CANCELLED_ORDER,
                msg("{evidence} for a {status} order", evidence=ev.kind.value, status=status.value),
            )
            return
        if ev.occurred_at is not None and ev.occurred_at > now + timedelta(minutes=rule.clock_skew_minutes):
            message = msg(
                "event time {at} is more than {minutes} min ahead of orderhub's clock",
                at=ev.occurred_at.isoformat(),
                minutes=rule.clock_skew_minutes,
            )
            await self._hold(result, order, ev, by, ExceptionKind.CLOCK_SKEW, message)
            return
        if ev.kind in SCANS and await self._scanned_before(order, ev, result.evidence_id):
            await self._hold(
                result,
                order,
                ev,
                by,
                ExceptionKind.DUPLICATE_SCAN,
                msg("{evidence} scanned again", evidence=ev.kind.value),
            )
            return
        if ev.kind in _FLOOR_SCANS and status is S.PAID:
            await self._hold(
                result,
                order,
                ev,
                by,
                ExceptionKind.SCAN_BEFORE_REQUEST,
                msg("{evidence} before any ship request", evidence=ev.kind.value),
            )
            return
        if ev.kind is EvidenceKind.WAREHOUSE_EXCEPTION:
            await self._hold(
                result, order, ev, by, ExceptionKind.WAREHOUSE_EXCEPTION, msg("the warehouse reported an exception")
            )
            return
        if ev.kind in _MILESTONES:
            await self._milestone(result, order, ev, by)
        elif ev.kind in OUTBOUND or ev.kind is EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND:
            await self._outbound(result, order, ev, by, rule)
        elif ev.kind is EvidenceKind.CARRIER_DELIVERED:
            await self._delivered(result, order, ev, by)
        else:
            await self._note(result, order, ev, by, msg("{evidence} noted", evidence=ev.kind))

    async def _milestone(self, result: Recorded, order: Order, ev: Evidence, by: Provenance) -> None:
        event, column = _MILESTONES[ev.kind]
        current = S(order.status)
        target = S.PICKED if event is EventType.ORDER_PICKED else S.PACKED
        if rank(current) >= rank(target):  # a late scan of an earlier step: keep its time, move nothing
            values = physical_times(by, **{column: ev.occurred_at}) if getattr(order, column) is None else {}
            kept = msg("{evidence} after {status}: time kept, status unchanged", evidence=ev.kind, status=current)
            await self._note(result, order, ev, by, kept, values)
            return
        status = decide(current, event, by.source)
        await self._move(result, order, ev, by, event, status, physical_times(by, **{column: ev.occurred_at}))

    async def _outbound(self, result: Recorded, order: Order, ev: Evidence, by: Provenance, rule: ShippedRule) -> None:
        current = S(order.status)
        if rank(current) >= rank(S.SHIPPED):
            if ev.kind is EvidenceKind.SCAN_SHIPPED:
                await self._hold(
                    result, order, ev, by, ExceptionKind.DUPLICATE_SCAN, msg("a second outbound for a shipped order")
                )
                return
            values: dict[str, Any] = {}
            if order.tracking_number is None and ev.tracking_number:
                values = {"tracking_number": ev.tracking_number, "carrier_code": ev.carrier_code or order.carrier_code}
            await self._note(result, order, ev, by, msg("{evidence} confirms the outbound", evidence=ev.kind), values)
            if values:  # the tracking number came after the outbound: now the channel can be told
                await request_confirmation(self.session, self.outbox, order)
            return
        breach = judge_outbound(rule, order.ship_requested_at, ev.occurred_at, utcnow())
        if breach is not None:
            details = {"reason": breach.reason, "rule_version": rule.version}
            await self._hold(result, order, ev, by, breach.kind, breach.message, details)
            return
        assert order.id is not None
        await record_parcels(self.session, order.id, ev, result.evidence_id, ev.occurred_at)
        covered = await coverage(self.session, order.id)
        # A partial confirmation ships the order only when its parcels carry every line; a final one (or a scan
        # or a pickup) does unless the parcels say goods are still missing, as another warehouse's share.
        out = covered is True if ev.kind is EvidenceKind.WAREHOUSE_PARTIAL_OUTBOUND else covered is not False
        if out:
            accepted = msg("outbound accepted by shipped rule v{version}", version=rule.version)
            await self.ship(result, order, ev, by, accepted)
        elif current is S.PARTIALLY_SHIPPED:
            another = msg("{evidence}: another parcel out, goods still to ship", evidence=ev.kind)
            await self._note(result, order, ev, by, another)
        else:
            status = decide(current, EventType.ORDER_PARTIALLY_SHIPPED, by.source)
            decision = msg(
                "{from_step} -> {to_step}: a parcel left, goods still to ship (shipped rule v{version})",
                from_step=current, to_step=status, version=rule.version,
            )  # fmt: skip
            await self._move(result, order, ev, by, EventType.ORDER_PARTIALLY_SHIPPED, status, {}, decision)
        if not out:  # a channel told per parcel hears of this one now
            await request_confirmation(self.session, self.outbox, order, partial=True)

    async def ship(self, result: Recorded, order: Order, ev: Evidence, by: Provenance, decision: Message) -> None:
        """The one place an order becomes SHIPPED, and so the one place the customer is told."""
        status = decide(S(order.status), EventType.ORDER_SHIPPED, by.source)
        tracking = ev.tracking_number or order.tracking_number
        values: dict[str, Any] = {
            **physical_times(by, shipped_at=ev.occurred_at),
            "tracking_number": tracking,
            "carrier_code": ev.carrier_code or order.carrier_code,
        }
        await self._move(result, order, ev, by, EventType.ORDER_SHIPPED, status, values, decision)
        assert order.id is not None
        self.outbox.enqueue(NOTIFY_SHIPPED_JOB, {"order_id": order.id, "version": order.version})
        await request_confirmation(self.session, self.outbox, order)
        if tracking is None:
            opened = await open_exception(
                self.session, self.outbox, ExceptionKind.SHIPPED_WITHOUT_TRACKING,
                msg("shipped, but no tracking number was reported"), order_id=order.id,
                evidence_id=result.evidence_id, dedup_key=f"no-tracking:{order.id}",
            )  # fmt: skip
            if opened is not None:
                result.exception_ids.append(opened)

    async def _delivered(self, result: Recorded, order: Order, ev: Evidence, by: Provenance) -> None:
        current = S(order.status)
        if rank(current) >= rank(S.DELIVERED):
            await self._note(result, order, ev, by, msg("delivery already recorded"))
            return
        assert order.id is not None
        delivered, parcels = await mark_delivered(self.session, order.id, ev.tracking_number, ev.occurred_at)
        if current is S.PARTIALLY_SHIPPED or (current is S.SHIPPED and parcels > 1 and delivered < parcels):
            note = msg(
                "parcel {tracking_number} delivered: {delivered} of {parcels} parcels so far",
                tracking_number=ev.tracking_number, delivered=delivered, parcels=parcels,
            )  # fmt: skip
            await self._note(result, order, ev, by, note)
            return
        if current is not S.SHIPPED:
            await self._hold(
                result,
                order,
                ev,
                by,
                ExceptionKind.OUT_OF_ORDER_EVENT,
                msg("delivered while {status}: no outbound yet", status=current.value),
            )
            return
        status = decide(current, EventType.ORDER_DELIVERED, by.source)
        await self._move(
            result, order, ev, by, EventType.ORDER_DELIVERED, status, physical_times(by, delivered_at=ev.occurred_at)
        )

    async def _move(
        self,
        result: Recorded,
        order: Order,
        ev: Evidence,
        by: Provenance,
        event: EventType,
        status: OrderStatus,
        values: dict[str, Any],
        decision: Message | None = None,
    ) -> None:
        result.outcome = EvidenceOutcome.APPLIED
        result.decide(decision or msg("{from_step} -> {to_step}", from_step=S(order.status), to_step=status))
        at = ev.occurred_at or utcnow()
        await append_event(self.session, self.outbox, order, Change(event, status, at, self._log(ev, result)), by)
        moved = {**values, **self._place(ev), "status": status.value, "stage_entered_at": at}
        await save_order(self.session, order, {**moved, **schedule_prediction(self.outbox, order)})

    async def _note(
        self,
        result: Recorded,
        order: Order,
        ev: Evidence,
        by: Provenance,
        decision: Message,
        values: dict[str, Any] | None = None,
    ) -> None:
        result.outcome = EvidenceOutcome.NOTED
        result.decide(decision)
        change = Change(
            EventType.FULFILMENT_EVIDENCE, S(order.status), ev.occurred_at or utcnow(), self._log(ev, result)
        )
        await append_event(self.session, self.outbox, order, change, by)
        await save_order(self.session, order, {**(values or {}), **self._place(ev)})

    async def _hold(
        self,
        result: Recorded,
        order: Order | None,
        ev: Evidence,
        by: Provenance,
        kind: ExceptionKind,
        message: Message,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Keep the evidence, log it on the order, and open a case; the status stays as it was. The decision and
        the case's summary keep their English for machine readers, and each reader reads them in their language."""
        result.outcome = EvidenceOutcome.HELD
        result.decide(msg("held for review: {reason}", reason=message))
        opened = await open_exception(
            self.session,
            self.outbox,
            kind,
            message,
            order_id=None if order is None else order.id,
            evidence_id=result.evidence_id,
            details={"evidence": ev.kind.value, "reference": ev.order_reference, **(details or {})},
        )
        assert opened is not None
        result.exception_ids.append(opened)
        if order is not None:
            data = {**self._log(ev, result), "exception_id": opened, "exception_kind": kind.value}
            change = Change(EventType.FULFILMENT_EVIDENCE, S(order.status), ev.occurred_at or utcnow(), data)
            await append_event(self.session, self.outbox, order, change, by)
            await save_order(self.session, order, {})

    async def _scanned_before(self, order: Order, ev: Evidence, evidence_id: int) -> bool:
        query = select(FulfilmentEvidence.id).where(
            FulfilmentEvidence.order_id == order.id,
            FulfilmentEvidence.kind == ev.kind.value,
            col(FulfilmentEvidence.id) != evidence_id,
        )
        if ev.kind is EvidenceKind.SCAN_SHIPPED and ev.tracking_number:  # each parcel of the order is scanned out
            query = query.where(FulfilmentEvidence.tracking_number == ev.tracking_number)
        return (await self.session.exec(query.limit(1))).first() is not None

    @staticmethod
    def _place(ev: Evidence) -> dict[str, Any]:
        place: dict[str, Any] = {
            "current_zone": ev.zone,
            "current_station": ev.station,
            "current_operator": ev.operator,
        }
        if ev.warehouse_code:
            place["warehouse_code"] = ev.warehouse_code
        if ev.tracking_number:  # waybills are printed at packing: carriers may report before the outbound does
            place["tracking_number"] = ev.tracking_number
            if ev.carrier_code:
                place["carrier_code"] = ev.carrier_code
        return place

    @staticmethod
    def _log(ev: Evidence, result: Recorded) -> dict[str, Any]:
        entry = {
            "evidence_id": result.evidence_id,
            "evidence": ev.kind.value,
            "event_key": ev.event_key,
            "decision": result.decision,
            SENTENCE: None if result.sentence is None else stored(result.sentence),
            "warehouse_code": ev.warehouse_code,
            "zone": ev.zone,
            "station": ev.station,
            "operator": ev.operator,
            "tracking_number": ev.tracking_number,
            "carrier_code": ev.carrier_code,
        }
        return {k: v for k, v in entry.items() if v is not None}

    @staticmethod
    def _decided(result: Recorded) -> dict[str, Any]:
        return {"decision": result.decision, "sentences": stored_sentences(decision=result.sentence)}

    @staticmethod
    def _evidence_row(ev: Evidence, by: Provenance) -> dict[str, Any]:
        return {
            "source": ev.source.value,
            "event_key": ev.event_key,
            "kind": ev.kind.value,
            "order_reference": ev.order_reference,
            "occurred_at": ev.occurred_at,
            "received_at": utcnow(),
            "warehouse_code": ev.warehouse_code,
            "zone": ev.zone,
            "station": ev.station,
            "operator": ev.operator,
            "carrier_code": ev.carrier_code,
            "tracking_number": ev.tracking_number,
            "outcome": EvidenceOutcome.NOTED.value,
            "decision": "",
            "inbound_message_id": by.inbound_message_id,
            "details": ev.details,
        }
