"""Order exceptions and the shipped rule over GraphQL: staff query, assign and resolve; admins edit the rule."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.fulfilment import OPS, FulfilmentUserError, user_errors
from api.graphql.ids import decode_cursor, decode_gid, encode_gid
from api.graphql.node import Node
from api.graphql.pagination import Connection, check_page_size, id_connection
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.errors import UserError
from domain.fulfilment import exceptions as service
from domain.fulfilment.models import ExceptionKind, ExceptionState
from domain.fulfilment.models import OrderException as ExceptionRow
from domain.fulfilment.rule import ShippedRule as RuleValues
from domain.fulfilment.rule import change_rule, current_rule, rule_history
from domain.fulfilment.service import FulfilmentService
from domain.i18n import msg
from domain.outbox.service import Outbox

if TYPE_CHECKING:
    from api.graphql.orders import Order

OrderRef = Annotated["Order", strawberry.lazy("api.graphql.orders")]
ExceptionKindEnum = strawberry.enum(ExceptionKind, name="OrderExceptionKind")
ExceptionStateEnum = strawberry.enum(ExceptionState, name="OrderExceptionState")
HANDLERS = frozenset(service.HANDLER_ROLES)


@strawberry.type(description="A case for a person: evidence that broke a rule, or an order that stopped moving.")
class OrderException(Node):
    row: strawberry.Private[ExceptionRow]

    @classmethod
    def of(cls, row: ExceptionRow) -> OrderException:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("OrderException", row.id)), row=row)

    @strawberry.field
    def kind(self) -> ExceptionKindEnum:  # type: ignore[valid-type]
        return ExceptionKind(self.row.kind)

    @strawberry.field
    def state(self) -> ExceptionStateEnum:  # type: ignore[valid-type]
        return ExceptionState(self.row.state)

    @strawberry.field
    def summary(self) -> str:
        return service.summary_of(self.row)

    @strawberry.field
    def opened_at(self) -> datetime:
        return self.row.opened_at

    @strawberry.field(
        description="When the case must be closed to count as closed in time: 72 hours after it opened (the "
        "exception-closure metric)."
    )
    def close_by(self) -> datetime:
        return service.close_by(self.row)

    @strawberry.field
    def assigned_to(self) -> str | None:
        return self.row.assigned_to

    @strawberry.field
    def assigned_at(self) -> datetime | None:
        return self.row.assigned_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.row.resolved_at

    @strawberry.field
    def resolver(self) -> str | None:
        return self.row.resolver

    @strawberry.field
    def resolution(self) -> str | None:
        return service.resolution_of(self.row)

    @strawberry.field(
        description="The case keeps the evidence that opened it: ops and admin may apply it when resolving "
        "(`acceptHeldEvidence`), if it is outbound evidence and the order still waits for it."
    )
    def holds_evidence(self) -> bool:
        return self.row.evidence_id is not None and self.row.order_id is not None

    @strawberry.field(description="What the rule saw: the evidence kind, the reference sent, the reason.")
    def details(self) -> JSON:
        return self.row.details

    @strawberry.field(
        description="The case's warehouse: its order's, else the warehouse whose event opened it (a scan of an "
        "order orderhub does not know). The `warehouseCode` filter matches this."
    )
    async def warehouse_code(self, info: Info[Context, None]) -> str | None:
        assert self.row.id is not None
        return await info.context.loaders.case_warehouses.load(self.row.id)

    @strawberry.field(description="Null for evidence about an order orderhub does not know.")
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        from api.graphql.fulfilment import load_any_order

        return await load_any_order(info, self.row.order_id)


async def load_exceptions(info: Info[Context, None], ids: list[int]) -> list[OrderException]:
    if not ids:
        return []
    async with info.context.read() as session:
        rows = [await session.get(ExceptionRow, i) for i in ids]
    return [OrderException.of(r) for r in rows if r is not None]


@strawberry.input
class OrderExceptionFilter:
    states: list[ExceptionStateEnum] | None = None  # type: ignore[valid-type]
    kinds: list[ExceptionKindEnum] | None = None  # type: ignore[valid-type]
    order_id: strawberry.ID | None = None
    assigned_to: str | None = None
    unassigned: bool | None = strawberry.field(default=None, description="True: only cases nobody has taken.")
    opened_after: datetime | None = strawberry.field(default=None, description="Opened at or after (age).")
    opened_before: datetime | None = strawberry.field(default=None, description="Opened before (age).")
    warehouse_code: str | None = strawberry.field(
        default=None, description="The case's warehouse (`OrderException.warehouseCode`)."
    )


@strawberry.type
class ShippedRuleChange:
    version: int
    changed_by: str
    changed_at: datetime
    reason: str
    previous: JSON


@strawberry.type(description="The stored rule that turns outbound evidence into SHIPPED.")
class ShippedRule:
    version: int
    min_minutes_after_request: int
    require_outbound_time: bool
    clock_skew_minutes: int

    @classmethod
    def of(cls, rule: RuleValues) -> ShippedRule:
        return cls(
            version=rule.version,
            min_minutes_after_request=rule.min_minutes_after_request,
            require_outbound_time=rule.require_outbound_time,
            clock_skew_minutes=rule.clock_skew_minutes,
        )

    @strawberry.field(description="Every stored change, newest first, with the values it replaced.")
    async def history(self, info: Info[Context, None]) -> list[ShippedRuleChange]:
        async with info.context.read() as session:
            rows = await rule_history(session)
        return [ShippedRuleChange(version=r.version, changed_by=r.changed_by, changed_at=r.changed_at,
                                  reason=r.reason, previous=r.previous) for r in rows]  # fmt: skip


@strawberry.type
class ExceptionQueries:
    @strawberry.field(description="Staff only: order exceptions, newest first.", extensions=allow(any_staff=True))
    async def order_exceptions(
        self,
        info: Info[Context, None],
        first: int,
        after: str | None = None,
        filter: OrderExceptionFilter | None = None,
    ) -> Connection[OrderException]:
        check_page_size(first, None)
        f = filter or OrderExceptionFilter()
        criteria = service.ExceptionFilter(
            states=[s.value for s in f.states or []],
            kinds=[k.value for k in f.kinds or []],
            order_id=decode_gid(f.order_id, "Order")[1] if f.order_id else None,
            assigned_to=f.assigned_to,
            unassigned=bool(f.unassigned),
            opened_after=f.opened_after,
            opened_before=f.opened_before,
            warehouse_code=f.warehouse_code,
        )
        async with info.context.read() as session:
            rows, more = await service.list_exceptions(session, criteria, first, decode_cursor(after, "exception"))
        return id_connection([OrderException.of(r) for r in rows], rows, "exception", more, after is not None)

    @strawberry.field(
        description="Staff who may take a case (ops, cs, admin; active accounts), as `assignedTo` names them.",
        extensions=allow(roles=HANDLERS),
    )
    async def exception_assignees(self, info: Info[Context, None]) -> list[str]:
        async with info.context.read() as session:
            return await service.exception_handlers(session)

    @strawberry.field(description="Staff only: the shipped rule in force.", extensions=allow(any_staff=True))
    async def shipped_rule(self, info: Info[Context, None]) -> ShippedRule:
        async with info.context.read() as session:
            return ShippedRule.of(await current_rule(session))


@strawberry.input
class AssignExceptionInput:
    exception_id: strawberry.ID
    assignee: str | None = strawberry.field(default=None, description="Defaults to the caller.")


@strawberry.input
class ResolveExceptionInput:
    exception_id: strawberry.ID
    resolution: str
    accept_held_evidence: bool = strawberry.field(
        default=False,
        description="Apply the held outbound evidence after all (ops and admin only). Its time and source stay "
        "the warehouse's or carrier's: nobody types a physical time.",
    )


@strawberry.input
class ChangeShippedRuleInput:
    reason: str
    min_minutes_after_request: int | None = None
    require_outbound_time: bool | None = None
    clock_skew_minutes: int | None = None


@strawberry.type
class ExceptionPayload:
    exception: OrderException | None
    user_errors: list[FulfilmentUserError]


@strawberry.type
class ShippedRulePayload:
    rule: ShippedRule | None
    user_errors: list[FulfilmentUserError]


def _staff(info: Info[Context, None]) -> Staff:
    assert isinstance(info.context.principal, Staff)
    return info.context.principal


@strawberry.type
class ExceptionMutations:
    @strawberry.mutation(extensions=allow(roles=HANDLERS))
    async def assign_exception(self, info: Info[Context, None], input: AssignExceptionInput) -> ExceptionPayload:
        _, key = decode_gid(input.exception_id, "OrderException")
        assignee = input.assignee or info.context.staff_actor
        try:
            async with info.context.unit_of_work() as session:
                row = await service.assign_exception(session, key, assignee)
        except UserError as error:
            return ExceptionPayload(exception=None, user_errors=user_errors(error.problems))
        return ExceptionPayload(exception=OrderException.of(row), user_errors=[])

    @strawberry.mutation(
        description="Close a case. `cs` may resolve but never force a physical status.",
        extensions=allow(roles=HANDLERS),
    )
    async def resolve_exception(self, info: Info[Context, None], input: ResolveExceptionInput) -> ExceptionPayload:
        _, key = decode_gid(input.exception_id, "OrderException")
        staff = _staff(info)
        try:
            if input.accept_held_evidence and not (staff.roles & OPS):
                raise UserError.one(
                    ("acceptHeldEvidence",), msg("only ops or admin may apply held evidence"), "NOT_ALLOWED"
                )
            async with info.context.unit_of_work() as session:
                outbox = Outbox()
                if input.accept_held_evidence:
                    await FulfilmentService(session, outbox).accept_held(key, info.context.staff_actor)
                row = await service.resolve_exception(session, outbox, key, info.context.staff_actor, input.resolution)
                await outbox.flush(session)
        except UserError as error:
            return ExceptionPayload(exception=None, user_errors=user_errors(error.problems))
        return ExceptionPayload(exception=OrderException.of(row), user_errors=[])

    @strawberry.mutation(
        description="Admin only: store a new version of the shipped rule; every change is kept.",
        extensions=allow(roles=frozenset({Role.ADMIN})),
    )
    async def change_shipped_rule(self, info: Info[Context, None], input: ChangeShippedRuleInput) -> ShippedRulePayload:
        try:
            async with info.context.unit_of_work() as session:
                rule = await change_rule(
                    session,
                    by=info.context.staff_actor,
                    reason=input.reason,
                    min_minutes_after_request=input.min_minutes_after_request,
                    require_outbound_time=input.require_outbound_time,
                    clock_skew_minutes=input.clock_skew_minutes,
                )
        except UserError as error:
            return ShippedRulePayload(rule=None, user_errors=user_errors(error.problems))
        return ShippedRulePayload(rule=ShippedRule.of(rule), user_errors=[])
