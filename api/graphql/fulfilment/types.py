"""Fulfilment's GraphQL types: the ship request, warehouse and carrier events as partners send them, and
what orderhub did with each."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors as shared_user_errors
from domain.access.policy import Role
from domain.errors import Problem
from domain.fulfilment import errors
from domain.fulfilment import evidence as ev
from domain.fulfilment.models import EvidenceOutcome
from domain.fulfilment.service import Recorded

if TYPE_CHECKING:
    from api.graphql.fulfilment.exceptions import OrderException
    from api.graphql.orders import Order

OrderRef = Annotated["Order", strawberry.lazy("api.graphql.orders")]
ExceptionRef = Annotated["OrderException", strawberry.lazy("api.graphql.fulfilment.exceptions")]
OPS = frozenset({Role.OPS, Role.ADMIN})

EvidenceOutcomeEnum = strawberry.enum(
    EvidenceOutcome,
    name="EvidenceOutcome",
    description="APPLIED moved the order; NOTED logged it without a move; HELD opened an exception instead.",
)


FulfilmentErrorCode = strawberry.enum(errors.FulfilmentErrorCode, description="Why a fulfilment request was refused.")


@strawberry.type
class FulfilmentUserError:
    field: list[str] | None
    message: str
    code: FulfilmentErrorCode  # type: ignore[valid-type]


def user_errors(problems: list[Problem]) -> list[FulfilmentUserError]:
    return shared_user_errors(FulfilmentUserError, FulfilmentErrorCode, problems)


@strawberry.input
class RequestShipmentInput:
    order_id: strawberry.ID
    requested_at: datetime | None = strawberry.field(
        default=None, description="When the click happened, if an ERP recorded it first; defaults to now."
    )
    note: str | None = None


@strawberry.input
class WithdrawShipmentRequestInput:
    order_id: strawberry.ID
    reason: str
    withdrawn_at: datetime | None = strawberry.field(default=None, description="Defaults to now.")


@strawberry.type
class RequestShipmentPayload:
    order_id: strawberry.Private[int | None]
    user_errors: list[FulfilmentUserError]

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        return await load_any_order(info, self.order_id)


@strawberry.input
class PackageItemInput:
    item_code: str
    quantity: int


@strawberry.input
class PackageInput:
    logistics_code: str | None = None
    express_code: str | None = strawberry.field(default=None, description="The tracking number of this package.")
    weight_grams: int | None = None
    items: list[PackageItemInput] = strawberry.field(default_factory=list)


@strawberry.input
class ConfirmLineInput:
    order_line_no: str
    item_code: str
    plan_qty: int
    actual_qty: int


@strawberry.input(description="A delivery-order confirmation as warehouses send it (deliveryorder.confirm).")
class DeliveryOrderConfirmationInput:
    delivery_order_code: str = strawberry.field(description="The order's channel order id, as orderhub sent it.")
    warehouse_code: str
    status: str = strawberry.field(description="ACCEPT, PARTDELIVERED, DELIVERED or EXCEPTION.")
    out_biz_code: str = strawberry.field(description="The warehouse's dedup business code: a resend is a no-op.")
    confirm_type: str = strawberry.field(default="FINAL", description="FINAL or INTERMEDIATE.")
    operator_code: str | None = None
    operator_name: str | None = None
    operate_time: datetime | None = strawberry.field(default=None, description="The physical outbound time.")
    logistics_code: str | None = strawberry.field(default=None, description="The carrier, e.g. SF or ZTO.")
    express_code: str | None = strawberry.field(default=None, description="The tracking number.")
    packages: list[PackageInput] = strawberry.field(default_factory=list)
    order_lines: list[ConfirmLineInput] = strawberry.field(default_factory=list)
    customer_id: str | None = strawberry.field(default=None, description="The warehouse system's customer id.")
    customer_grade: str | None = None


@strawberry.input(description="A scan on the warehouse floor.")
class WarehouseScanInput:
    event_id: str = strawberry.field(description="The warehouse's event id: a resend is a no-op.")
    delivery_order_code: str
    warehouse_code: str
    scan_type: str = strawberry.field(description="PICKED, PACKED, WEIGHED or SHIPPED.")
    scanned_at: datetime
    zone: str | None = None
    station: str | None = None
    operator_code: str | None = None
    operator_name: str | None = None
    express_code: str | None = None
    weight_grams: int | None = None
    customer_id: str | None = strawberry.field(default=None, description="The warehouse system's customer id.")
    customer_grade: str | None = None


@strawberry.input(description="Exactly one of `confirmation` or `scan`.")
class WarehouseEventInput:
    confirmation: DeliveryOrderConfirmationInput | None = None
    scan: WarehouseScanInput | None = None


@strawberry.input(description="A carrier tracking event.")
class CarrierEventInput:
    event_id: str
    carrier_code: str
    tracking_number: str
    action: str = strawberry.field(description="PICKED_UP, IN_TRANSIT or DELIVERED (signed for).")
    occurred_at: datetime
    location: str | None = None
    courier: str | None = None
    signer: str | None = None


@strawberry.type(description="What orderhub did with one warehouse or carrier event.")
class EvidencePayload:
    outcome: EvidenceOutcomeEnum | None  # type: ignore[valid-type]
    decision: str | None = strawberry.field(
        description="What orderhub decided, in the reader's language (the order's system log keeps its English)."
    )
    repeated: bool = strawberry.field(description="True when this event id was already recorded: nothing changed.")
    order_id: strawberry.Private[int | None]
    exception_ids: strawberry.Private[list[int]]
    user_errors: list[FulfilmentUserError]

    @strawberry.field
    async def order(self, info: Info[Context, None]) -> OrderRef | None:
        return await load_any_order(info, self.order_id)

    @classmethod
    def of(cls, recorded: Recorded) -> EvidencePayload:
        return cls(
            outcome=recorded.outcome, decision=recorded.said, repeated=recorded.repeated,
            order_id=recorded.order_id, exception_ids=recorded.exception_ids, user_errors=[],
        )  # fmt: skip

    @classmethod
    def refused(cls, problems: list[Problem]) -> EvidencePayload:
        return cls(
            outcome=None, decision=None, repeated=False, order_id=None, exception_ids=[],
            user_errors=user_errors(problems),
        )  # fmt: skip

    @strawberry.field(description="Exceptions this event opened.")
    async def exceptions(self, info: Info[Context, None]) -> list[ExceptionRef]:
        from api.graphql.fulfilment.exceptions import load_exceptions

        return await load_exceptions(info, self.exception_ids)


async def load_any_order(info: Info[Context, None], order_id: int | None) -> Order | None:
    """The order a mutation's payload or a staff record points at, read without the viewer's scope: whoever
    may see the payload or the record may see which order it is about. A list's records share one query."""
    from api.graphql.orders import Order

    if order_id is None:
        return None
    row = await info.context.loaders.orders.load(order_id)
    return None if row is None else Order.of(row)


def confirmation_of(c: DeliveryOrderConfirmationInput) -> ev.ConfirmationSubmission:
    return ev.ConfirmationSubmission(
        delivery_order_code=c.delivery_order_code, warehouse_code=c.warehouse_code, status=c.status,
        out_biz_code=c.out_biz_code, confirm_type=c.confirm_type, operator_code=c.operator_code,
        operator_name=c.operator_name, operate_time=c.operate_time, logistics_code=c.logistics_code,
        express_code=c.express_code,
        packages=[
            ev.PackageSubmission(p.logistics_code, p.express_code, p.weight_grams,
                                 [ev.PackageItem(i.item_code, i.quantity) for i in p.items])
            for p in c.packages
        ],
        lines=[ev.ConfirmLine(x.order_line_no, x.item_code, x.plan_qty, x.actual_qty) for x in c.order_lines],
        customer_id=c.customer_id, customer_grade=c.customer_grade,
    )  # fmt: skip


def scan_of(s: WarehouseScanInput) -> ev.ScanSubmission:
    return ev.ScanSubmission(
        event_id=s.event_id, delivery_order_code=s.delivery_order_code, warehouse_code=s.warehouse_code,
        scan_type=s.scan_type, scanned_at=s.scanned_at, zone=s.zone, station=s.station,
        operator_code=s.operator_code, operator_name=s.operator_name, express_code=s.express_code,
        weight_grams=s.weight_grams, customer_id=s.customer_id, customer_grade=s.customer_grade,
    )  # fmt: skip


def carrier_of(c: CarrierEventInput) -> ev.CarrierSubmission:
    return ev.CarrierSubmission(
        c.event_id, c.carrier_code, c.tracking_number, c.action, c.occurred_at, c.location, c.courier, c.signer
    )
