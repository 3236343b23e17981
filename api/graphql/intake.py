"""Channel intake over GraphQL: partners submit raw channel payloads; staff manage cleaning rules,
pin learned schemas, read drift alerts and replay recorded traffic."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.auth.principal import Partner, Staff
from api.graphql.context import Context
from api.graphql.errors import code_of, field_path
from api.graphql.ids import decode_cursor, encode_cursor, encode_gid
from api.graphql.node import Node, visible_row
from api.graphql.orders import Order, SalesChannel, load_payload_orders
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.access.policy import Role, Scope
from domain.channels import monitor, replay
from domain.channels.models import CleaningRuleSet as RuleRow
from domain.channels.models import DriftAlert as AlertRow
from domain.channels.service import accept, decode, pin_baseline, record_payload, save_rules, source_and_kind, watch
from domain.errors import Problem, UserError
from domain.intake.models import InboundMessage as MessageRow
from domain.intake.models import Outcome
from domain.orders.channels import Channel
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.outbox.service import Outbox
from domain.pipeline.record import close


@strawberry.enum(description="Why a channel payload or an intake setting was refused.")
class IntakeErrorCode(Enum):
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    TOO_LARGE = "TOO_LARGE"
    NOT_JSON = "NOT_JSON"
    WRONG_SHAPE = "WRONG_SHAPE"
    UNKNOWN_STATUS = "UNKNOWN_STATUS"
    REQUIRED = "REQUIRED"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    ORDER_LOCKED = "ORDER_LOCKED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    INVALID_RULE = "INVALID_RULE"
    BREAKS_MAPPING = "BREAKS_MAPPING"
    NO_BASELINE = "NO_BASELINE"
    INVALID = "INVALID"


@strawberry.type
class IntakeUserError:
    field: list[str] | None
    message: str
    code: IntakeErrorCode


def _errors(problems: list[Problem]) -> list[IntakeUserError]:
    return [
        IntakeUserError(
            field=field_path(("input",), p),
            message=p.message,
            code=code_of(IntakeErrorCode, p.code, IntakeErrorCode.INVALID),
        )
        for p in problems
    ]


@strawberry.type(description="A difference between a payload and its channel's pinned schema.")
class DriftAlert(Node):
    channel: str
    kind: str
    path: str = strawberry.field(description="Field path; `[]` stands for every entry of a list.")
    change: str = strawberry.field(description="NEW_FIELD, MISSING_FIELD, TYPE_CHANGE or NEW_VALUE.")
    detail: str
    example: str = strawberry.field(description="An example value with personal data masked.")
    first_seen: datetime
    last_seen: datetime
    count: int

    @classmethod
    def of(cls, row: AlertRow) -> DriftAlert:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("DriftAlert", row.id)),
            channel=row.channel,
            kind=row.kind,
            path=row.path,
            change=row.change,
            detail=row.detail,
            example=row.example,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            count=row.count,
        )


@strawberry.type(description="One saved version of a channel's cleaning rules; the highest is in force.")
class CleaningRuleSet:
    channel: str
    kind: str
    version: int
    rules: JSON
    note: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: RuleRow) -> CleaningRuleSet:
        return cls(
            channel=row.channel,
            kind=row.kind,
            version=row.version,
            rules=row.rules,
            note=row.note,
            created_by=row.created_by,
            created_at=row.created_at,
        )


@strawberry.type
class SchemaBaseline:
    channel: str
    kind: str
    samples: int
    pinned_at: datetime | None
    pinned_by: str | None
    fields: int


@strawberry.type(description="One line of a channel's upstream history: a drift first seen, or a rule saved.")
class UpstreamChange:
    at: datetime
    what: str
    summary: str


@strawberry.type
class UpstreamMonitor:
    channel: str
    kind: str
    rule_version: int
    rules_in_force: JSON
    baseline_pinned_at: datetime | None
    timeline: list[UpstreamChange]


@strawberry.input(description="A channel's own order payload, exactly as the channel sent it.")
class SubmitChannelOrderInput:
    channel: SalesChannel = strawberry.field(  # type: ignore[valid-type]
        description="TAOBAO, TMALL, DOUYIN, WECHAT_CHANNELS or AMAZON (WECHAT_MINI has no payload format)."
    )
    payload: str = strawberry.field(description="The raw JSON text; recorded before it is parsed.")


@strawberry.type
class SubmitChannelOrderPayload:
    order_ids: strawberry.Private[list[int]]
    rule_version: int | None
    drift: list[str] = strawberry.field(description="Differences from the pinned schema this payload showed.")
    user_errors: list[IntakeUserError]

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> Order | None:
        return (await load_payload_orders(info, self.order_ids))[0] if self.order_ids else None


@strawberry.input
class SaveCleaningRulesInput:
    channel: SalesChannel  # type: ignore[valid-type]
    rules: JSON = strawberry.field(
        description='A list such as [{"op": "drop_if_equals", "path": "order_id_suffix", "value": "ERR"}].'
    )
    note: str = ""


@strawberry.type
class SaveCleaningRulesPayload:
    rule_set: CleaningRuleSet | None
    user_errors: list[IntakeUserError]


@strawberry.input
class PinSchemaBaselineInput:
    channel: SalesChannel  # type: ignore[valid-type]
    pinned: bool = True


@strawberry.type
class PinSchemaBaselinePayload:
    baseline: SchemaBaseline | None
    user_errors: list[IntakeUserError]


def _staff_name(info: Info[Context, None]) -> str:
    principal = info.context.principal
    return f"staff:{principal.email}" if isinstance(principal, Staff) else "staff:unknown"


def _relocate(problems: list[Problem]) -> list[Problem]:
    """Order service paths start at the batch index; a channel payload has one order, its canonical form."""
    return [
        Problem(("canonical", *p.field[1:]) if p.field and isinstance(p.field[0], int) else p.field, p.message, p.code)
        for p in problems
    ]


@strawberry.type(description="A recorded inbound message of a channel: metadata only, the body stays sealed.")
class InboundMessage(Node):
    source: str
    kind: str
    received_at: datetime
    outcome: str
    error: str | None
    body_size: int
    repeats: int

    @classmethod
    def of(cls, row: MessageRow) -> InboundMessage:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("InboundMessage", row.id)), source=row.source, kind=row.kind,
            received_at=row.received_at, outcome=row.outcome, error=row.error, body_size=row.body_size,
            repeats=row.repeats,
        )  # fmt: skip


@strawberry.type(description="One recorded message played through today's rules and adapters.")
class ReplayedMessage:
    message_id: strawberry.ID
    received_at: datetime
    outcome_before: str
    channel_order_id: str | None
    rule_version: int | None
    would_be: JSON | None = strawberry.field(description="The canonical order the message would become now.")
    stored: JSON | None = strawberry.field(description="What the message became when it was applied, if it was.")
    diff: JSON = strawberry.field(description="Field -> [stored, would be], for fields that differ.")
    error: str | None
    applied: bool
    supersedes: str | None = strawberry.field(
        description="The channel order number of the order this message made before, when today's rules name the "
        "sale differently: applying makes that order VOID with a link to this one, once."
    )


@strawberry.input
class ReplayInput:
    channel: SalesChannel  # type: ignore[valid-type]
    received_from: datetime
    received_to: datetime
    apply: bool = strawberry.field(default=False, description="False: a dry run that changes nothing.")


@strawberry.type
class ReplayPayload:
    messages: list[ReplayedMessage]
    user_errors: list[IntakeUserError]


@strawberry.type
class IntakeMutations:
    @strawberry.mutation(
        description="Submit one order in its channel's own payload format; cleaned, watched and normalized here.",
        extensions=allow(scopes=frozenset({Scope.ORDERS_WRITE})),
    )
    async def submit_channel_order(
        self, info: Info[Context, None], input: SubmitChannelOrderInput
    ) -> SubmitChannelOrderPayload:
        ctx = info.context
        assert isinstance(ctx.principal, Partner)
        body = input.payload.encode()
        sessions = ctx.runtime.core.sessions
        recorded = await record_payload(sessions, ctx.runtime.core.vault, input.channel.value, body,
                                        partner_key_id=ctx.principal.key_id)  # fmt: skip
        message_id = recorded.message_id
        channel, _ = source_and_kind(input.channel.value)
        findings: list[str] = []
        try:
            adapter, payload = decode(input.channel.value, body)
            async with ctx.unit_of_work() as session:
                findings = [
                    f"{f.change} {f.path} {f.detail}".strip() for f in await watch(session, adapter, channel, payload)
                ]
            by = Provenance(Source.CHANNEL, f"partner:{ctx.principal.name}", message_id, ctx.principal.channels)
            settings = ctx.runtime.settings
            async with ctx.unit_of_work() as session:
                orders = OrderService(
                    session, ctx.runtime.core.identity, Outbox(), settings.payment_deadline_minutes * 60
                )
                accepted = await accept(session, orders, adapter, channel, payload, message_id, by)
        except UserError as error:
            problems = _relocate(error.problems)
            await close(sessions, message_id, Outcome.REJECTED, str(UserError(problems)))
            await ctx.record_outcome(Outcome.REJECTED, str(UserError(problems)))
            return SubmitChannelOrderPayload(
                order_ids=[], rule_version=None, drift=findings, user_errors=_errors(problems)
            )
        except Exception as exc:
            await close(sessions, message_id, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        return SubmitChannelOrderPayload(
            order_ids=[accepted.order_id], rule_version=accepted.rule_version, drift=findings, user_errors=[]
        )

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
                    session, ctx.runtime.core.vault, input.channel.value, input.rules, input.note, _staff_name(info)
                )
        except UserError as error:
            return SaveCleaningRulesPayload(rule_set=None, user_errors=_errors(error.problems))
        return SaveCleaningRulesPayload(rule_set=CleaningRuleSet.of(row), user_errors=[])

    @strawberry.mutation(
        description="Pin a channel's learned payload schema: from now on every payload is compared with it.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def pin_schema_baseline(
        self, info: Info[Context, None], input: PinSchemaBaselineInput
    ) -> PinSchemaBaselinePayload:
        ctx = info.context
        try:
            async with ctx.unit_of_work() as session:
                row = await pin_baseline(session, input.channel.value, _staff_name(info), pinned=input.pinned)
        except UserError as error:
            return PinSchemaBaselinePayload(baseline=None, user_errors=_errors(error.problems))
        baseline = SchemaBaseline(
            channel=row.channel,
            kind=row.kind,
            samples=row.samples,
            pinned_at=row.pinned_at,
            pinned_by=row.pinned_by,
            fields=len(row.shape.get("fields", {})),
        )
        return PinSchemaBaselinePayload(baseline=baseline, user_errors=[])


def _replayed(item: replay.Replayed) -> ReplayedMessage:
    return ReplayedMessage(
        message_id=strawberry.ID(encode_gid("InboundMessage", item.message_id)),
        received_at=item.received_at,
        outcome_before=item.outcome_before,
        channel_order_id=item.channel_order_id,
        rule_version=item.rule_version,
        would_be=item.would_be,
        stored=item.stored,
        diff=item.diff,
        error=item.error,
        applied=item.applied,
        supersedes=item.supersedes,
    )


@strawberry.type
class ReplayMutations:
    @strawberry.mutation(
        description="Replay a window of a channel's recorded payloads through today's rules: dry run or for real.",
        extensions=allow(roles=frozenset({Role.ADMIN, Role.OPS})),
    )
    async def replay_channel_messages(self, info: Info[Context, None], input: ReplayInput) -> ReplayPayload:
        ctx = info.context
        settings = ctx.runtime.settings
        actor = _staff_name(info).replace("staff:", "staff-replay:")
        try:
            if input.apply:
                async with ctx.unit_of_work() as session:
                    deadline = settings.payment_deadline_minutes * 60
                    orders = OrderService(session, ctx.runtime.core.identity, Outbox(), deadline)
                    items = await replay.replay(
                        session, ctx.runtime.core.vault, input.channel.value, input.received_from, input.received_to,
                        orders=orders, actor=actor,
                    )  # fmt: skip
            else:
                async with ctx.read() as session:  # never committed: a dry run leaves no trace
                    items = await replay.replay(
                        session, ctx.runtime.core.vault, input.channel.value, input.received_from, input.received_to
                    )
        except UserError as error:
            return ReplayPayload(messages=[], user_errors=_errors(error.problems))
        return ReplayPayload(messages=[_replayed(i) for i in items], user_errors=[])


@strawberry.type
class IntakeQueries:
    @strawberry.field(description="Drift alerts, newest first.", extensions=allow(any_staff=True))
    async def drift_alerts(
        self,
        info: Info[Context, None],
        first: int,
        after: str | None = None,
        channel: SalesChannel | None = None,  # type: ignore[valid-type]
    ) -> Connection[DriftAlert]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await monitor.alerts(
                session, channel.value if channel else None, decode_cursor(after, "drift"), first + 1
            )
        page = rows[:first]
        return connection(
            [DriftAlert.of(r) for r in page],
            [encode_cursor("drift", r.id or 0) for r in page],
            has_next=len(rows) > first,
            has_previous=after is not None,
        )

    @strawberry.field(
        description="A channel's recorded inbound messages in a time window, oldest first.",
        extensions=allow(any_staff=True),
    )
    async def inbound_messages(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
        first: int,
        after: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        outcome: str | None = None,
    ) -> Connection[InboundMessage]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await replay.find_messages(
                session,
                channel.value,
                received_from,
                received_to,
                outcome,
                decode_cursor(after, "inbound") or 0,
                first + 1,
            )
        page = rows[:first]
        return connection(
            [InboundMessage.of(r) for r in page], [encode_cursor("inbound", r.id or 0) for r in page],
            len(rows) > first, after is not None,
        )  # fmt: skip

    @strawberry.field(description="Every saved version of a channel's cleaning rules, newest first.",
                      extensions=allow(any_staff=True))  # fmt: skip
    async def cleaning_rules(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
        first: int,
        after: str | None = None,
    ) -> Connection[CleaningRuleSet]:
        check_page_size(first, None)
        async with info.context.read() as session:
            rows = await monitor.rule_versions(session, channel.value, decode_cursor(after, "rules"), first + 1)
        page = rows[:first]
        return connection(
            [CleaningRuleSet.of(r) for r in page], [encode_cursor("rules", r.version) for r in page],
            len(rows) > first, after is not None,
        )  # fmt: skip

    @strawberry.field(
        description="A channel's upstream changes over time and the cleaning rules in force.",
        extensions=allow(any_staff=True),
    )
    async def upstream_monitor(
        self,
        info: Info[Context, None],
        channel: SalesChannel,  # type: ignore[valid-type]
    ) -> UpstreamMonitor | None:
        async with info.context.read() as session:
            view = await monitor.upstream(session, channel.value)
        if view is None:
            return None
        return UpstreamMonitor(
            channel=view.channel,
            kind=view.kind,
            rule_version=view.rule_version,
            rules_in_force=view.rules,
            baseline_pinned_at=view.pinned_at,
            timeline=[UpstreamChange(at=e.at, what=e.what, summary=e.summary) for e in view.timeline],
        )


async def load_drift_alert(info: Info[Context, None], key: int) -> DriftAlert | None:
    row = await visible_row(info, AlertRow, key, any_staff=True)
    return None if row is None else DriftAlert.of(row)


async def load_inbound_message(info: Info[Context, None], key: int) -> InboundMessage | None:
    """Only a channel's messages, as `inboundMessages` lists them; other recorded traffic stays unlisted."""
    row = await visible_row(info, MessageRow, key, any_staff=True)
    return None if row is None or row.source not in set(Channel) else InboundMessage.of(row)
