"""Fulfilment's mutations: the staff ship request and its withdrawal, and partner warehouse and carrier
events, each handled by `domain/pipeline/evidence.py` in the request's unit of work."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.auth.principal import Partner
from api.graphql.context import Context
from api.graphql.errors import summary
from api.graphql.fulfilment.types import (
    OPS,
    CarrierEventInput,
    EvidencePayload,
    RequestShipmentInput,
    RequestShipmentPayload,
    WarehouseEventInput,
    WithdrawShipmentRequestInput,
    carrier_of,
    confirmation_of,
    scan_of,
    user_errors,
)
from api.graphql.ids import decode_gid
from api.graphql.permissions import allow
from domain.access.policy import Scope
from domain.clock import as_utc
from domain.errors import Problems, UserError
from domain.fulfilment import evidence as ev
from domain.fulfilment.service import FulfilmentService
from domain.i18n import msg
from domain.intake.models import Outcome
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from domain.pipeline.evidence import Sender, process_evidence


async def _evidence(info: Info[Context, None], evidence: ev.Evidence | None, problems: Problems) -> EvidencePayload:
    """The request's outcome is written by the context: a request may carry several mutations."""
    ctx = info.context
    assert isinstance(ctx.principal, Partner)
    sender = Sender(f"partner:{ctx.principal.name}", ctx.inbound_message_id, ctx.principal.channels)
    try:
        async with ctx.unit_of_work() as session:
            recorded = await process_evidence(session, evidence, problems, sender, ctx.mark_applied)
    except UserError as error:
        await ctx.record_outcome(Outcome.REJECTED, summary(error.problems))
        return EvidencePayload.refused(error.problems)
    return EvidencePayload.of(recorded)


@strawberry.type
class FulfilmentMutations:
    @strawberry.mutation(
        description="Record a staff ship request. It sets shipRequestedAt and SHIP_REQUESTED, nothing more: "
        "SHIPPED comes only from warehouse or carrier evidence.",
        extensions=allow(roles=OPS),
    )
    async def request_shipment(self, info: Info[Context, None], input: RequestShipmentInput) -> RequestShipmentPayload:
        ctx = info.context
        _, key = decode_gid(input.order_id, "Order")
        by = Provenance(Source.STAFF, ctx.staff_actor)
        try:
            requested_at = None
            if input.requested_at is not None:
                try:
                    requested_at = as_utc(input.requested_at)
                except ValueError as exc:
                    raise UserError.one(("requestedAt",), msg("time needs a UTC offset"), "INVALID_TIME") from exc
            async with ctx.unit_of_work() as session:
                await FulfilmentService(session, Outbox()).request_shipment(key, by, requested_at, input.note)
        except UserError as error:
            return RequestShipmentPayload(order_id=None, user_errors=user_errors(error.problems))
        return RequestShipmentPayload(order_id=key, user_errors=[])

    @strawberry.mutation(
        description="Take back a ship click before the warehouse acts: the order is PAID again. Each round trip "
        "is status drift.",
        extensions=allow(roles=OPS),
    )
    async def withdraw_shipment_request(
        self, info: Info[Context, None], input: WithdrawShipmentRequestInput
    ) -> RequestShipmentPayload:
        ctx = info.context
        _, key = decode_gid(input.order_id, "Order")
        by = Provenance(Source.STAFF, ctx.staff_actor)
        try:
            problems = Problems()
            withdrawn_at = problems.aware_time(input.withdrawn_at, ("withdrawnAt",))
            problems.raise_if_any()
            async with ctx.unit_of_work() as session:
                await FulfilmentService(session, Outbox()).withdraw_shipment(key, by, input.reason, withdrawn_at)
        except UserError as error:
            return RequestShipmentPayload(order_id=None, user_errors=user_errors(error.problems))
        return RequestShipmentPayload(order_id=key, user_errors=[])

    @strawberry.mutation(
        description="A warehouse delivery-order confirmation or floor scan. Idempotent on the dedup code / "
        "event id. Evidence that breaks the shipped rule changes nothing and opens an exception.",
        extensions=allow(scopes=frozenset({Scope.WMS_WRITE})),
    )
    async def record_warehouse_event(self, info: Info[Context, None], input: WarehouseEventInput) -> EvidencePayload:
        problems = Problems()
        confirmation = None if input.confirmation is None else confirmation_of(input.confirmation)
        scan = None if input.scan is None else scan_of(input.scan)
        return await _evidence(info, ev.validate_warehouse(confirmation, scan, problems), problems)

    @strawberry.mutation(
        description="A carrier tracking event (picked up, in transit, signed). Idempotent on the event id.",
        extensions=allow(scopes=frozenset({Scope.CARRIER_WRITE})),
    )
    async def record_carrier_event(self, info: Info[Context, None], input: CarrierEventInput) -> EvidencePayload:
        problems = Problems()
        return await _evidence(info, ev.validate_carrier(carrier_of(input), (), problems), problems)
