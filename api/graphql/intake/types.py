"""Channel intake's GraphQL types: payloads, cleaning rules, learned schemas, drift alerts, recorded
messages and their replay."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors as shared_user_errors
from api.graphql.ids import encode_gid
from api.graphql.node import Node
from api.graphql.orders import Order, SalesChannel, load_payload_orders
from domain.channels import errors, replay, upstream
from domain.channels.models import CleaningRuleSet as RuleRow
from domain.channels.models import DriftAlert as AlertRow
from domain.channels.models import SchemaBaseline as BaselineRow
from domain.errors import Problem
from domain.intake.models import InboundMessage as MessageRow
from domain.pipeline import evidence_replay, payment_replay
from domain.pipeline.channel import Handled

IntakeErrorCode = strawberry.enum(
    errors.IntakeErrorCode, description="Why a channel payload or an intake setting was refused."
)


@strawberry.type
class IntakeUserError:
    field: list[str] | None
    message: str
    code: IntakeErrorCode  # type: ignore[valid-type]


def user_errors(problems: list[Problem]) -> list[IntakeUserError]:
    return shared_user_errors(IntakeUserError, IntakeErrorCode, problems)


UpstreamKind = strawberry.enum(
    upstream.UpstreamKind,
    description="Who sends what is watched: a sales channel, a payment provider, a warehouse, a carrier, or a "
    "statement format.",
)


@strawberry.type(description="A difference between a payload and its upstream's pinned schema.")
class DriftAlert(Node):
    channel: str = strawberry.field(description="The sales channel, or for other upstreams the source as kept.")
    kind: str
    upstream: UpstreamKind  # type: ignore[valid-type]
    source: str = strawberry.field(description="The provider, warehouse, carrier or statement format; the channel.")
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
            upstream=upstream.UpstreamKind(row.upstream),
            source=row.channel,
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

    @classmethod
    def of(cls, row: BaselineRow) -> SchemaBaseline:
        return cls(
            channel=row.channel,
            kind=row.kind,
            samples=row.samples,
            pinned_at=row.pinned_at,
            pinned_by=row.pinned_by,
            fields=len(row.shape.get("fields", {})),
        )


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

    @classmethod
    def of(cls, handled: Handled) -> SubmitChannelOrderPayload:
        return cls(
            order_ids=[] if handled.order_id is None else [handled.order_id],
            rule_version=handled.rule_version,
            drift=handled.findings,
            user_errors=user_errors(handled.problems),
        )


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


@strawberry.input
class PinUpstreamBaselineInput:
    upstream: UpstreamKind  # type: ignore[valid-type]
    source: str = strawberry.field(description="As drift alerts name it: alipay, warehouse:WH1, bank-csv:icbc.")


@strawberry.input
class SaveUpstreamRulesInput:
    upstream: UpstreamKind  # type: ignore[valid-type]
    source: str
    rules: JSON = strawberry.field(
        description='The channels\' ops on what is watched, e.g. [{"op": "drop", "path": "fee_amount"}]; a statement '
        'format\'s [{"op": "rename", "path": "columns.remark", "to": "memo"}] is read by its parser too.'
    )
    note: str = ""


@strawberry.type(description="A recorded payment notification through today's watch rules and pinned baseline.")
class ReplayedNotification:
    message_id: strawberry.ID
    received_at: datetime
    drift: list[str] = strawberry.field(description="Differences from the pinned baseline: change, path, detail.")


@strawberry.type
class PinSchemaBaselinePayload:
    baseline: SchemaBaseline | None
    user_errors: list[IntakeUserError]


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

    @classmethod
    def of(cls, item: replay.Replayed) -> ReplayedMessage:
        return cls(
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


@strawberry.input
class ReplayEvidenceInput:
    upstream: UpstreamKind  # type: ignore[valid-type]
    source: str = strawberry.field(description="The warehouse or carrier code: WH1 or warehouse:WH1 alike.")
    received_from: datetime
    received_to: datetime
    apply: bool = strawberry.field(default=False, description="False: a dry run that changes nothing.")


@strawberry.type(description="One recorded warehouse or carrier event played through today's watch and rules.")
class ReplayedEvent:
    message_id: strawberry.ID
    received_at: datetime
    event_key: str | None
    order_reference: str | None
    verdict: str = strawberry.field(
        description="RECORD: not on file, applying records it; ON_FILE: recorded before, applying changes nothing; "
        "REFUSED: today's validation or rules refuse it."
    )
    drift: list[str] = strawberry.field(description="Differences from the source's baseline: change, path, detail.")
    error: str | None
    applied: bool
    outcome: str | None = strawberry.field(description="What applying did: APPLIED, NOTED or HELD.")

    @classmethod
    def of(cls, item: evidence_replay.ReplayedEvent) -> ReplayedEvent:
        return cls(
            message_id=strawberry.ID(encode_gid("InboundMessage", item.message_id)), received_at=item.received_at,
            event_key=item.event_key, order_reference=item.order_reference, verdict=item.verdict.value,
            drift=[f"{f.change} {f.path} {f.detail}".strip() for f in item.findings], error=item.error,
            applied=item.applied, outcome=item.outcome,
        )  # fmt: skip


@strawberry.type
class ReplayEvidencePayload:
    events: list[ReplayedEvent]
    user_errors: list[IntakeUserError]


@strawberry.input
class ReplayPaymentsInput:
    provider: str = strawberry.field(description="wechatpay, alipay or a generic provider's name.")
    received_from: datetime
    received_to: datetime
    apply: bool = strawberry.field(default=False, description="False: a dry run that changes nothing.")


@strawberry.type(description="One recorded, validly signed payment notification through today's parser and ledger.")
class ReplayedPayment:
    message_id: strawberry.ID
    received_at: datetime
    verdict: str = strawberry.field(
        description="POST: not in the ledger, applying posts it; ON_FILE: posted before, applying changes nothing; "
        "NO_MONEY: moves no money; REFUSED: today's parser or checks refuse it."
    )
    provider_txn_id: str | None
    amount: int | None = strawberry.field(description="Minor units, signed (refunds negative).")
    currency: str | None
    error: str | None
    applied: bool
    outcome: str | None = strawberry.field(description="What posting did: POSTED, DUPLICATE or CONFLICT.")

    @classmethod
    def of(cls, item: payment_replay.ReplayedPayment) -> ReplayedPayment:
        return cls(
            message_id=strawberry.ID(encode_gid("InboundMessage", item.message_id)), received_at=item.received_at,
            verdict=item.verdict.value, provider_txn_id=item.provider_txn_id, amount=item.amount,
            currency=item.currency, error=item.error, applied=item.applied, outcome=item.outcome,
        )  # fmt: skip


@strawberry.type
class ReplayPaymentsPayload:
    payments: list[ReplayedPayment]
    user_errors: list[IntakeUserError]
