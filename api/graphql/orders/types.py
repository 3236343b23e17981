"""The order as GraphQL shows it: the Order type with its lines and event log, the submission inputs, and
the payloads the submit mutations answer with."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql import journey
from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor, encode_gid
from api.graphql.money import OrderMoney, order_money
from api.graphql.node import Node, visible_row
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from api.graphql.scalars import Decimal, Money
from domain.confirmations.models import ConfirmationState
from domain.confirmations.models import ShipmentConfirmation as ConfirmationRow
from domain.confirmations.service import last_message_of
from domain.fulfilment.models import Parcel as ParcelRow
from domain.identity.models import AliasKind
from domain.orders import errors, queries
from domain.orders.channels import Channel
from domain.orders.models import Order as OrderRow
from domain.orders.models import OrderEvent as EventRow
from domain.orders.models import OrderLine as LineRow
from domain.orders.status import EventType, OrderStatus, Source
from domain.pipeline.submit import MAX_BATCH

if TYPE_CHECKING:
    from api.graphql.fulfilment.exceptions import OrderException

OrderExceptionRef = Annotated["OrderException", strawberry.lazy("api.graphql.fulfilment.exceptions")]

SalesChannel = strawberry.enum(Channel, name="SalesChannel", description="Where an order was placed.")
OrderStatusEnum = strawberry.enum(OrderStatus, name="OrderStatus")
EventTypeEnum = strawberry.enum(EventType, name="OrderEventType")
ConfirmationStateEnum = strawberry.enum(ConfirmationState, name="ChannelConfirmationState")
EventSourceEnum = strawberry.enum(Source, name="EventSource", description="Who caused an event.")


OrderErrorCode = strawberry.enum(errors.OrderErrorCode, description="Why an order submission was refused.")


@strawberry.type
class OrderUserError:
    field: list[str] | None
    message: str
    code: OrderErrorCode  # type: ignore[valid-type]


@strawberry.type
class ParcelItem:
    sku: str
    quantity: int


@strawberry.type(description="A package that left a warehouse for the order; an order may leave in several.")
class Parcel:
    warehouse_code: str | None
    carrier_code: str | None
    tracking_number: str | None
    items: list[ParcelItem] = strawberry.field(description="What the warehouse said the parcel carries, if it said.")
    shipped_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: ParcelRow) -> Parcel:
        items = [ParcelItem(sku=str(i.get("sku")), quantity=int(i.get("quantity") or 0)) for i in row.items]
        return cls(
            warehouse_code=row.warehouse_code, carrier_code=row.carrier_code, tracking_number=row.tracking_number,
            items=items, shipped_at=row.shipped_at, delivered_at=row.delivered_at,
        )  # fmt: skip


@strawberry.type
class OrderLine:
    line_no: int
    sku: str
    title: str
    quantity: int
    unit_price: Money
    amount: Money

    @classmethod
    def of(cls, row: LineRow, currency: str) -> OrderLine:
        return cls(
            line_no=row.line_no,
            sku=row.sku,
            title=row.title,
            quantity=row.quantity,
            unit_price=Money.of(row.unit_price, currency),
            amount=Money.of(row.amount, currency),
        )


@strawberry.type(description="One entry of an order's append-only system event log.")
class OrderEvent(Node):
    version: int = strawberry.field(description="The order's version after this event; rises by one per change.")
    type: EventTypeEnum  # type: ignore[valid-type]
    status: OrderStatusEnum  # type: ignore[valid-type]
    source: EventSourceEnum  # type: ignore[valid-type]
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    data: JSON

    @classmethod
    def of(cls, row: EventRow) -> OrderEvent:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("OrderEvent", row.id)),
            version=row.version,
            type=EventType(row.type),
            status=OrderStatus(row.status),
            source=Source(row.source),
            actor=row.actor,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            data=row.data,
        )


@strawberry.type(description="Staff: telling the channel that one parcel left, and where that stands.")
class ChannelConfirmation:
    row: strawberry.Private[ConfirmationRow]

    @classmethod
    def of(cls, row: ConfirmationRow) -> ChannelConfirmation:
        return cls(row=row)

    @strawberry.field
    def channel(self) -> SalesChannel:  # type: ignore[valid-type]
        return Channel(self.row.channel)

    @strawberry.field
    def tracking_number(self) -> str:
        return self.row.tracking_number

    @strawberry.field
    def state(self) -> ConfirmationStateEnum:  # type: ignore[valid-type]
        return ConfirmationState(self.row.state)

    @strawberry.field
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field(description="The channel's own code in its last answer, or orderhub's (TIMEOUT, HTTP_429...).")
    def last_code(self) -> str | None:
        return self.row.last_code

    @strawberry.field(description="The channel's own words in its last answer, or orderhub's in the reader's language.")
    def last_message(self) -> str | None:
        return last_message_of(self.row)

    @strawberry.field
    def confirmed_at(self) -> datetime | None:
        return self.row.confirmed_at


@strawberry.type
class Order(Node):
    row: strawberry.Private[OrderRow]

    @classmethod
    def of(cls, row: OrderRow) -> Order:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("Order", row.id)), row=row)

    @strawberry.field
    def channel(self) -> SalesChannel:  # type: ignore[valid-type]
        return Channel(self.row.channel)

    @strawberry.field
    def channel_order_id(self) -> str:
        return self.row.channel_order_id

    @strawberry.field
    def status(self) -> OrderStatusEnum:  # type: ignore[valid-type]
        return OrderStatus(self.row.status)

    @strawberry.field(description="The status exactly as the channel last reported it.")
    def raw_status(self) -> str | None:
        return self.row.raw_status

    @strawberry.field(description="Pseudonymous buyer id: a keyed hash of the phone number, never the number.")
    def buyer_uid(self) -> str | None:
        return self.row.buyer_uid

    @strawberry.field
    def items_amount(self) -> Money:
        return Money.of(self.row.items_amount, self.row.currency)

    @strawberry.field
    def shipping_amount(self) -> Money:
        return Money.of(self.row.shipping_amount, self.row.currency)

    @strawberry.field
    def discount_amount(self) -> Money:
        return Money.of(self.row.discount_amount, self.row.currency)

    @strawberry.field
    def total_amount(self) -> Money:
        return Money.of(self.row.total_amount, self.row.currency)

    @strawberry.field
    def warehouse_code(self) -> str | None:
        return self.row.warehouse_code

    @strawberry.field(description="The channel's id of the shop that sold it, where the channel named one.")
    def shop_code(self) -> str | None:
        return self.row.shop_code

    @strawberry.field(description="utm_* and landing URL as the channel sent them; null when it sent none.")
    def attribution(self) -> OrderAttribution | None:
        r = self.row
        if not (r.utm_source or r.utm_medium or r.utm_campaign or r.landing_url):
            return None
        return OrderAttribution(
            utm_source=r.utm_source, utm_medium=r.utm_medium, utm_campaign=r.utm_campaign, landing_url=r.landing_url
        )

    @strawberry.field
    def placed_at(self) -> datetime:
        return self.row.placed_at

    @strawberry.field
    def paid_at(self) -> datetime | None:
        return self.row.paid_at

    @strawberry.field(description="When staff asked for shipment; not evidence that anything left.")
    def ship_requested_at(self) -> datetime | None:
        return self.row.ship_requested_at

    @strawberry.field
    def picked_at(self) -> datetime | None:
        return self.row.picked_at

    @strawberry.field
    def packed_at(self) -> datetime | None:
        return self.row.packed_at

    @strawberry.field(description="Physical outbound time, set only by warehouse or carrier evidence.")
    def shipped_at(self) -> datetime | None:
        return self.row.shipped_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at

    @strawberry.field
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

    @strawberry.field
    def cancelled_at(self) -> datetime | None:
        return self.row.cancelled_at

    tracking_number: str | None = strawberry.field(resolver=journey.tracking_number)
    carrier_code: str | None = strawberry.field(resolver=journey.carrier_code)
    current_operator: str | None = strawberry.field(
        resolver=journey.current_operator,
        description="Who handles the order now, as the warehouse reports it. Customers see it only when the "
        "merchant allows it; otherwise null (also in the backtrack).",
    )
    last_stage_duration: journey.Duration | None = strawberry.field(
        resolver=journey.last_stage_duration,
        description="Time in the current stage so far, or the last stage's length once the order is done.",
    )
    predicted_next_at: datetime | None = strawberry.field(
        resolver=journey.predicted_next_at,
        description="When the next fulfilment step is expected, learnt from this merchant's history; null while "
        "none is known (a final state, or the prediction after the last move not stored yet).",
    )
    predicted_next_stage: OrderStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        resolver=journey.predicted_next_stage, description="Which step is expected next."
    )
    predicted_next_interval: journey.PredictionInterval | None = strawberry.field(
        resolver=journey.predicted_next_interval,
        description="Staff only: the 90% interval around predictedNextAt.",
        extensions=allow(any_staff=True),
    )
    prediction_model_version: int | None = strawberry.field(
        resolver=journey.prediction_model_version,
        description="Staff only: the model version that predicted; null when the per-stage median served.",
        extensions=allow(any_staff=True),
    )

    @strawberry.field(
        description="Staff only: the cleaning rule version applied to the order's latest raw channel payload; "
        "null for orders submitted as canonical input.",
        extensions=allow(any_staff=True),
    )
    async def cleaning_rule_version(self, info: Info[Context, None]) -> int | None:
        assert self.row.id is not None
        return await info.context.loaders.cleaning.load(self.row.id)

    prediction_basis: str | None = strawberry.field(
        resolver=journey.prediction_basis,
        description="Staff only: MODEL, or BASELINE when the per-stage median served (no model yet, a new "
        "warehouse or stage).",
        extensions=allow(any_staff=True),
    )
    timeline: journey.OrderTimeline = strawberry.field(
        resolver=journey.timeline, description="The customer-visible flow and the staff system log side by side."
    )
    backtrack: journey.OrderBacktrack = strawberry.field(
        resolver=journey.order_backtrack, description="Each stage's duration and where the order is blocked now."
    )

    @strawberry.field(
        description="Amount due, received and the balance; vouchers and adjustments for staff. A customer sees "
        "this on their own orders only."
    )
    def money(self) -> OrderMoney:
        assert self.row.id is not None
        return order_money(self.row.id, self.row.total_amount, self.row.currency)

    @strawberry.field(description="Rises by one with every change; pushed events carry it.")
    def version(self) -> int:
        return self.row.version

    @strawberry.field(
        description="On a MERGED duplicate: the parent order standing for its group (splitGroup takes it)."
    )
    async def parent_order(self, info: Info[Context, None]) -> Order | None:
        return None if self.row.parent_order_id is None else await load_order(info, self.row.parent_order_id)

    @strawberry.field(
        description="On a VOID order: the order of the same sale under its right channel order number, which a "
        "replay under corrected cleaning rules made and which holds the sale's payments from then on."
    )
    async def superseded_by(self, info: Info[Context, None]) -> Order | None:
        assert self.row.id is not None
        successor = await info.context.loaders.successors.load(self.row.id)
        return None if successor is None else await load_order(info, successor)

    @strawberry.field(
        description="Staff only: each parcel's confirmation to the channel (one per tracking number), oldest first; "
        "every attempt is also in the system log as CHANNEL_CONFIRMATION.",
        extensions=allow(any_staff=True),
    )
    async def channel_confirmations(self, info: Info[Context, None]) -> list[ChannelConfirmation]:
        assert self.row.id is not None
        return [ChannelConfirmation.of(row) for row in await info.context.loaders.confirmations.load(self.row.id)]

    @strawberry.field(
        description="Staff only: the cases opened on the order (stuck, duplicate scan, voucher conflict...), open "
        "and resolved, newest first.",
        extensions=allow(any_staff=True),
    )
    async def exceptions(self, info: Info[Context, None]) -> list[OrderExceptionRef]:
        from api.graphql.fulfilment.exceptions import OrderException

        assert self.row.id is not None
        return [OrderException.of(row) for row in await info.context.loaders.exceptions.load(self.row.id)]

    @strawberry.field(
        description="The parcels the order left in, oldest first; PARTIALLY_SHIPPED until they carry every line."
    )
    async def parcels(self, info: Info[Context, None]) -> list[Parcel]:
        assert self.row.id is not None
        return [Parcel.of(row) for row in await info.context.loaders.parcels.load(self.row.id)]

    @strawberry.field
    async def lines(self, info: Info[Context, None]) -> list[OrderLine]:
        assert self.row.id is not None
        rows = await info.context.loaders.lines.load(self.row.id)
        return [OrderLine.of(row, self.row.currency) for row in rows]

    @strawberry.field(
        description="Staff only: the system event log, oldest first.",
        extensions=allow(any_staff=True),
    )
    async def events(self, info: Info[Context, None], first: int, after: str | None = None) -> Connection[OrderEvent]:
        check_page_size(first, None)
        assert self.row.id is not None
        after_version = decode_cursor(after, "event") or 0
        rows = [r for r in await info.context.loaders.events.load(self.row.id) if r.version > after_version]
        page = rows[:first]
        return connection(
            [OrderEvent.of(r) for r in page],
            [encode_cursor("event", r.version) for r in page],
            has_next=len(rows) > first,
            has_previous=after_version > 0,
        )


@strawberry.input(description="Every field given must match (AND); an exact match where a field names one value.")
class OrderFilter:
    statuses: list[OrderStatusEnum] | None = None  # type: ignore[valid-type]
    channels: list[SalesChannel] | None = None  # type: ignore[valid-type]
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    buyer_uid: str | None = None
    warehouse_code: str | None = None
    channel_order_id: str | None = strawberry.field(
        default=None, description="The channel's order number, exactly as the channel wrote it (any channel)."
    )
    tracking_number: str | None = strawberry.field(
        default=None,
        description="A carrier tracking number, exactly: the order's current one or any of its parcels'.",
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Staff only: the buyer's full mobile number, in any usual spelling (+86 138 1234 5678, "
        "13812345678). Hashed on the server into the buyer's UID and dropped, never stored or logged; a masked or "
        "unusable number is refused with an INVALID_PHONE error naming `filter.phone`.",
    )
    buyer: str | None = strawberry.field(
        default=None, description="Staff only: a buyer UID (as `Order.buyerUid` shows it): that buyer's orders."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Staff only: one search box for whatever the buyer quotes, spaces around it ignored: matches "
        "a channel order number, a tracking number (the order's or a parcel's), a buyer UID, or, when it reads as "
        "a full mobile number, that buyer's orders (hashed on the server as `phone` is, never stored or logged). "
        "Anything else matches nothing, without an error.",
    )


async def load_order(info: Info[Context, None], key: int) -> Order | None:
    """The order if the caller may see it; the orders of a list's rows share one query."""
    viewer = info.context.viewer
    if viewer is None:
        return None
    row = await info.context.loaders.orders.load(key)
    return None if row is None or not viewer.sees(row) else Order.of(row)


async def load_event(info: Info[Context, None], key: int) -> OrderEvent | None:
    """As `Order.events` lists them: to staff only (customers follow the journey's flow instead)."""
    row = await visible_row(info, EventRow, key, any_staff=True)
    return None if row is None or await load_order(info, row.order_id) is None else OrderEvent.of(row)


BuyerAliasKind = strawberry.enum(AliasKind, name="BuyerAliasKind", description="Kinds of platform buyer id.")


@strawberry.input
class BuyerAliasInput:
    kind: BuyerAliasKind  # type: ignore[valid-type]
    value: str


@strawberry.input
class BuyerInput:
    phone: str | None = strawberry.field(
        default=None, description="Hashed into the buyer UID on arrival, never stored."
    )
    platform_buyer_id: str | None = strawberry.field(
        default=None, description="The channel's own buyer id (Taobao buyer_open_uid, Douyin open_id, WeChat openid)."
    )
    aliases: list[BuyerAliasInput] | None = strawberry.field(
        default=None, description="Further platform buyer ids, e.g. a WeChat unionid or a Taobao ouid."
    )
    receiver_region: str | None = strawberry.field(
        default=None, description="Receiver's region code; compared only to suggest matches for masked phones."
    )


@strawberry.input(
    description="Attribution parameters as the channel sends them; any utm_* missing is read from "
    "the landing URL's query."
)
class AttributionInput:
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    landing_url: str | None = None


@strawberry.type(description="Where the order's traffic came from, as the channel reported it.")
class OrderAttribution:
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    landing_url: str | None


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int
    unit_price: Decimal
    title: str = ""


@strawberry.input(description="The buyer's invoice request as the channel sent it; sealed at rest.")
class InvoiceInput:
    title: str = strawberry.field(description="Whom the invoice is for: a person's name or a company's.")
    tax_id: str | None = strawberry.field(
        default=None, description="A company's 18-character unified social credit code; a wrong one is flagged."
    )
    kind: str = strawberry.field(default="NORMAL", description="As the channel names it: NORMAL, SPECIAL, …")
    email: str | None = None
    address: str | None = None


@strawberry.input(description="A canonical order as a channel bridge submits it.")
class OrderInput:
    channel: SalesChannel  # type: ignore[valid-type]
    channel_order_id: str
    currency_code: str
    placed_at: datetime
    lines: list[OrderLineInput]
    status: OrderStatusEnum = strawberry.field(  # type: ignore[valid-type]
        default=OrderStatus.PENDING_PAYMENT, description="PENDING_PAYMENT, PAID or CANCELLED; others are refused."
    )
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    shipping_amount: Decimal = "0"
    discount_amount: Decimal = "0"
    total_amount: Decimal | None = strawberry.field(
        default=None, description="If given, must equal lines + shipping - discount."
    )
    buyer: BuyerInput | None = None
    warehouse_code: str | None = None
    shop_code: str | None = strawberry.field(
        default=None, description="The channel's id of the shop that sold it (a registered shop's `code`)."
    )
    raw_status: str | None = None
    attribution: AttributionInput | None = None
    invoice: InvoiceInput | None = None


@strawberry.input
class SubmitOrdersInput:
    orders: list[OrderInput] = strawberry.field(description=f"At most {MAX_BATCH}; all are applied or none.")


async def load_payload_orders(info: Info[Context, None], ids: list[int]) -> list[Order]:
    async with info.context.read() as session:
        rows = await queries.get_orders(session, queries.EVERYONE, ids)
    return [Order.of(rows[i]) for i in ids]


@strawberry.type
class SubmitOrderPayload:
    rows: strawberry.Private[list[OrderRow]]  # as the submission's unit of work read them back
    user_errors: list[OrderUserError]

    @strawberry.field
    def order(self) -> Order | None:
        return Order.of(self.rows[0]) if self.rows else None


@strawberry.type
class SubmitOrdersPayload:
    rows: strawberry.Private[list[OrderRow]]
    user_errors: list[OrderUserError]

    @strawberry.field
    def orders(self) -> list[Order]:
        return [Order.of(row) for row in self.rows]
