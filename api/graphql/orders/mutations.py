"""A partner's order submissions: GraphQL input in, the pipeline's submit handler, GraphQL payload out."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import user_errors as shared_user_errors
from api.graphql.orders.types import (
    OrderErrorCode,
    OrderInput,
    OrderUserError,
    SubmitOrderPayload,
    SubmitOrdersInput,
    SubmitOrdersPayload,
)
from api.graphql.permissions import allow
from domain.access.policy import Scope
from domain.errors import Problem
from domain.invoices.request import InvoiceRequest
from domain.orders.commands import AttributionSubmission, LineSubmission, OrderSubmission


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        description="Submit one canonical order. Idempotent on (channel, channelOrderId).",
        extensions=allow(scopes=frozenset({Scope.ORDERS_WRITE})),
    )
    async def submit_order(self, info: Info[Context, None], input: OrderInput) -> SubmitOrderPayload:
        submitted = await info.context.submit_orders([submission_of(input)])
        return SubmitOrderPayload(rows=submitted.orders, user_errors=user_errors(single(submitted.problems)))

    @strawberry.mutation(
        description="Submit up to 100 canonical orders in one unit of work.",
        extensions=allow(scopes=frozenset({Scope.ORDERS_WRITE})),
    )
    async def submit_orders(
        self, info: Info[Context, None], input: Annotated[SubmitOrdersInput, strawberry.argument()]
    ) -> SubmitOrdersPayload:
        submitted = await info.context.submit_orders([submission_of(order) for order in input.orders])
        return SubmitOrdersPayload(rows=submitted.orders, user_errors=user_errors(submitted.problems))


def submission_of(order: OrderInput) -> OrderSubmission:
    buyer, attribution = order.buyer, order.attribution
    return OrderSubmission(
        channel=order.channel.value,
        channel_order_id=order.channel_order_id,
        status=order.status.value,
        currency=order.currency_code,
        placed_at=order.placed_at,
        lines=[LineSubmission(x.sku, x.title, x.quantity, str(x.unit_price)) for x in order.lines],
        paid_at=order.paid_at,
        cancelled_at=order.cancelled_at,
        shipping_amount=str(order.shipping_amount),
        discount_amount=str(order.discount_amount),
        total_amount=None if order.total_amount is None else str(order.total_amount),
        buyer_phone=buyer.phone if buyer else None,
        platform_buyer_id=buyer.platform_buyer_id if buyer else None,
        buyer_aliases=[(a.kind.value, a.value) for a in (buyer.aliases or [])] if buyer else [],
        receiver_region=buyer.receiver_region if buyer else None,
        warehouse_code=order.warehouse_code,
        shop_code=order.shop_code,
        raw_status=order.raw_status,
        invoice=None
        if order.invoice is None
        else InvoiceRequest(
            order.invoice.title, order.invoice.tax_id, order.invoice.kind, order.invoice.email, order.invoice.address
        ),
        attribution=None
        if attribution is None
        else AttributionSubmission(
            attribution.utm_source, attribution.utm_medium, attribution.utm_campaign, attribution.landing_url
        ),
    )


def user_errors(problems: list[Problem]) -> list[OrderUserError]:
    """The domain's paths start at `orders`; GraphQL's at the mutation's `input` argument."""
    return shared_user_errors(OrderUserError, OrderErrorCode, problems)


def single(problems: list[Problem]) -> list[Problem]:
    """A single submission's paths drop the batch position: input.currencyCode, not input.orders.0.currencyCode."""
    return [Problem(p.field[2:] if p.field[:1] == ("orders",) else p.field, p.message, p.code) for p in problems]
