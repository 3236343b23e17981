"""Channel intake's mutations: partners submit raw channel payloads; staff save cleaning rules, pin learned
schemas and replay recorded traffic. Each payload runs through `domain/pipeline/channel.py`."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.auth.principal import Partner, Staff
from api.graphql.context import Context
from api.graphql.errors import summary
from api.graphql.fulfilment.replay import evidence_reader
from api.graphql.intake.types import (
    CleaningRuleSet,
    PinSchemaBaselineInput,
    PinSchemaBaselinePayload,
    PinUpstreamBaselineInput,
    ReplayedEvent,
    ReplayedMessage,
    ReplayedPayment,
    ReplayEvidenceInput,
    ReplayEvidencePayload,
    ReplayInput,
    ReplayPayload,
    ReplayPaymentsInput,
    ReplayPaymentsPayload,
    SaveCleaningRulesInput,
    SaveCleaningRulesPayload,
    SaveUpstreamRulesInput,
    SchemaBaseline,
    SubmitChannelOrderInput,
    SubmitChannelOrderPayload,
    user_errors,
)
from api.graphql.permissions import allow
from domain.access.policy import Role, Scope
from domain.channels import replay, upstream
from domain.channels.service import pin_baseline, record_payload, save_rules
from domain.errors import UserError
from domain.intake.models import Outcome
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.pipeline.channel import ChannelMessage
from domain.pipeline.evidence_replay import replay_evidence
from domain.pipeline.payment_replay import replay_payments
from domain.pipeline.record import close
from runtime import metrics


def staff_name(info: Info[Context, None]) -> str:
    principal = info.context.principal
    return f"staff:{principal.email}" if isinstance(principal, Staff) else "staff:unknown"


@strawberry.type
class IntakeMutations:
    @strawberry.mutation(
        description="Submit one order in its channel's own payload format; cleaned, watched and normalized here.",
        extensions=allow(scopes=frozenset({Scope.ORDERS_WRITE})),
    )
    async def submit_channel_order(
        self, info: Info[Context, None], input: SubmitChannelOrderInput
    ) -> SubmitChannelOrderPayload:
        ctx, core, body = info.context, info.context.runtime.core, input.payload.encode()
        assert isinstance(ctx.principal, Partner)
        recorded = await record_payload(core.sessions, core.vault, input.channel.value, body,
                                        partner_key_id=ctx.principal.key_id)  # fmt: skip
        by = Provenance(Source.CHANNEL, f"partner:{ctx.principal.name}", recorded.message_id, ctx.principal.channels)
        try:
            async with ctx.unit_of_work() as session:
                handled = await core.channel_payloads(describe=summary).process(
                    session, ChannelMessage(recorded.message_id, input.channel.value, body, by)
                )
                if handled.outcome is Outcome.APPLIED:  # the request's own record closes with the payload's
                    await ctx.mark_applied(session)
        except Exception as exc:
            await close(core.sessions, recorded.message_id, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        if handled.outcome is Outcome.REJECTED:
            await ctx.record_outcome(Outcome.REJECTED, handled.error)
        metrics.count_inbound(f"channel:{input.channel.value}", handled.outcome)
        return SubmitChannelOrderPayload.of(handled)

    @strawberry.mutation(
        description="Save a new version of a channel's cleaning rules; refused if it breaks an accepted sample.",
        extensions=allow(roles=frozenset({Role.ADMIN})),
    )
    async def save_cleaning_rules(
        self, info: Info[Context, None], input: SaveCleaningRulesInput
    ) -> SaveCleaningRulesPayload:
        ctx = info.context
        try:
            async with ctx.unit_of_work() as session:
                row = await save_rules(
                    session, ctx.runtime.core.vault, input.channel.value, input.rules, input.note, staff_name(info)
                )
        except UserError as error:
            return SaveCleaningRulesPayload(rule_set=None, user_errors=user_errors(error.problems))
        return SaveCleaningRulesPayload(rule_set=CleaningRuleSet.of(row), user_errors=[])

    @strawberry.mutation(
        description="Pin a channel's learned payload schema: from now on every payload is compared with it.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def pin_schema_baseline(
        self, info: Info[Context, None], input: PinSchemaBaselineInput
    ) -> PinSchemaBaselinePayload:
        try:
            async with info.context.unit_of_work() as session:
                row = await pin_baseline(session, input.channel.value, staff_name(info), pinned=input.pinned)
        except UserError as error:
            return PinSchemaBaselinePayload(baseline=None, user_errors=user_errors(error.problems))
        return PinSchemaBaselinePayload(baseline=SchemaBaseline.of(row), user_errors=[])

    @strawberry.mutation(
        description="Save a new version of a payment provider's, warehouse's, carrier's or statement format's watch "
        "rules; the newest is applied to what is watched before it is compared.",
        extensions=allow(roles=frozenset({Role.ADMIN})),
    )
    async def save_upstream_rules(
        self, info: Info[Context, None], input: SaveUpstreamRulesInput
    ) -> SaveCleaningRulesPayload:
        try:
            async with info.context.unit_of_work() as session:
                kind = upstream.UpstreamKind(input.upstream.value)
                row = await upstream.save_rules(session, kind, input.source, input.rules, input.note, staff_name(info))
        except UserError as error:
            return SaveCleaningRulesPayload(rule_set=None, user_errors=user_errors(error.problems))
        return SaveCleaningRulesPayload(rule_set=CleaningRuleSet.of(row), user_errors=[])

    @strawberry.mutation(
        description="Pin what a payment provider, warehouse, carrier or statement format has taught: from now on "
        "each of its messages or files is compared with it (a statement whose layout differs is held).",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS, Role.FINANCE})),
    )
    async def pin_upstream_baseline(
        self, info: Info[Context, None], input: PinUpstreamBaselineInput
    ) -> PinSchemaBaselinePayload:
        try:
            async with info.context.unit_of_work() as session:
                kind = upstream.UpstreamKind(input.upstream.value)
                if kind is upstream.UpstreamKind.CHANNEL:
                    row = await pin_baseline(session, input.source, staff_name(info))
                else:
                    row = await upstream.pin(session, kind, input.source, staff_name(info))
        except UserError as error:
            return PinSchemaBaselinePayload(baseline=None, user_errors=user_errors(error.problems))
        return PinSchemaBaselinePayload(baseline=SchemaBaseline.of(row), user_errors=[])


@strawberry.type
class ReplayMutations:
    @strawberry.mutation(
        description="Replay a window of a channel's recorded payloads through today's rules: dry run or for real.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def replay_channel_messages(self, info: Info[Context, None], input: ReplayInput) -> ReplayPayload:
        ctx, core = info.context, info.context.runtime.core
        window = (input.channel.value, input.received_from, input.received_to)
        try:
            if input.apply:
                actor = staff_name(info).replace("staff:", "staff-replay:")
                async with ctx.unit_of_work() as session:
                    orders = core.channel_payloads().orders(session)
                    items = await replay.replay(session, core.vault, *window, orders=orders, actor=actor)
            else:
                async with ctx.read() as session:  # never committed: a dry run leaves no trace
                    items = await replay.replay(session, core.vault, *window)
        except UserError as error:
            return ReplayPayload(messages=[], user_errors=user_errors(error.problems))
        return ReplayPayload(messages=[ReplayedMessage.of(i) for i in items], user_errors=[])

    @strawberry.mutation(
        description="Replay a window of a warehouse's or carrier's recorded events through today's watch rules and "
        "the evidence handler: a dry run, or applied (an event on file is never recorded twice).",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def replay_evidence_events(
        self, info: Info[Context, None], input: ReplayEvidenceInput
    ) -> ReplayEvidencePayload:
        ctx, core = info.context, info.context.runtime.core
        read = evidence_reader(info.schema)
        kind = upstream.UpstreamKind(input.upstream.value)
        window = (core.vault, read, kind, input.source, input.received_from, input.received_to)
        try:
            if input.apply:
                actor = staff_name(info).replace("staff:", "staff-replay:")
                async with ctx.unit_of_work() as session:
                    items = await replay_evidence(session, *window, apply=True, actor=actor)
            else:
                async with ctx.read() as session:  # never committed: a dry run leaves no trace
                    items = await replay_evidence(session, *window)
        except UserError as error:
            return ReplayEvidencePayload(events=[], user_errors=user_errors(error.problems))
        return ReplayEvidencePayload(events=[ReplayedEvent.of(i) for i in items], user_errors=[])

    @strawberry.mutation(
        description="Replay a window of a payment provider's recorded, validly signed notifications through today's "
        "parser into the ledger: a dry run, or posted (exactly once: a notice on file never posts again).",
        extensions=allow(roles=frozenset({Role.ADMIN})),
    )
    async def replay_payment_postings(
        self, info: Info[Context, None], input: ReplayPaymentsInput
    ) -> ReplayPaymentsPayload:
        ctx, core = info.context, info.context.runtime.core
        window = (core.vault, core.settings, input.provider, input.received_from, input.received_to)
        if input.apply:
            async with ctx.unit_of_work() as session:
                items = await replay_payments(session, *window, apply=True)
        else:
            async with ctx.read() as session:  # never committed: a dry run leaves no trace
                items = await replay_payments(session, *window)
        return ReplayPaymentsPayload(payments=[ReplayedPayment.of(i) for i in items], user_errors=[])
