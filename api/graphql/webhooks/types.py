"""Webhook endpoints, their deliveries and each delivery's attempts, as partners and staff see them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.auth.principal import Partner, Principal, Staff
from api.graphql.context import Context
from api.graphql.ids import decode_cursor, encode_cursor, encode_gid
from api.graphql.node import Node
from api.graphql.pagination import Connection, check_page_size, connection
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.errors import UserError
from domain.webhooks import deliveries, errors
from domain.webhooks.endpoints import Owner, disabled_reason_of, endpoint_of
from domain.webhooks.events import ORDER_READERS, WebhookEventType
from domain.webhooks.models import DeliveryState, EndpointState
from domain.webhooks.models import WebhookAttempt as AttemptRow
from domain.webhooks.models import WebhookDelivery as DeliveryRow
from domain.webhooks.models import WebhookEndpoint as EndpointRow
from domain.webhooks.models import WebhookEvent as EventRow

WebhookEventTypeEnum = strawberry.enum(
    WebhookEventType, name="WebhookEventType", description="What a webhook tells; its `type` field names the value."
)
WebhookEndpointStateEnum = strawberry.enum(EndpointState, name="WebhookEndpointState")
WebhookDeliveryStateEnum = strawberry.enum(DeliveryState, name="WebhookDeliveryState")
WebhookErrorCode = strawberry.enum(errors.WebhookErrorCode, description="Why a webhook mutation was refused.")

READ = dict(scopes=ORDER_READERS, any_staff=True)
"""Partners see their own endpoints (domain/webhooks/endpoints.Owner), staff every one."""
MANAGE = dict(scopes=ORDER_READERS, roles=frozenset({Role.ADMIN}))
"""A partner manages its own endpoints; of staff, admins manage every partner's."""


def owner_of(principal: Principal) -> Owner:
    """Staff read every endpoint; permissions already let only admins change one."""
    match principal:
        case Partner(key_id=key_id, name=name, scopes=scopes):
            return Owner(f"partner:{name}", key_id, frozenset(scopes))
        case Staff(email=email):
            return Owner(f"staff:{email}")
    raise AssertionError("the permission checks let no other caller through")


@strawberry.type
class WebhookUserError:
    field: list[str] | None
    message: str
    code: WebhookErrorCode  # type: ignore[valid-type]


@strawberry.type(description="One HTTP attempt of a delivery: what the endpoint answered, or why it did not.")
class WebhookAttempt:
    row: strawberry.Private[AttemptRow]

    @strawberry.field
    def attempt(self) -> int:
        return self.row.attempt

    @strawberry.field(description="`initial`, `retry`, or `manual:<who>` for a redelivery.")
    def trigger(self) -> str:
        return self.row.trigger

    @strawberry.field
    def started_at(self) -> datetime:
        return self.row.started_at

    @strawberry.field
    def duration_ms(self) -> int:
        return self.row.duration_ms

    @strawberry.field(description="The HTTP status; null when none came (timeout, refused connection).")
    def response_status(self) -> int | None:
        return self.row.response_status

    @strawberry.field(description="The start of the response body (up to 1,000 characters).")
    def response_body(self) -> str | None:
        return self.row.response_body

    @strawberry.field(description="Why the attempt failed: timeout, redirect not followed, HTTP status, network.")
    def error(self) -> str | None:
        return self.row.error

    @strawberry.field
    def succeeded(self) -> bool:
        return self.row.succeeded


@strawberry.type(description="One event sent to one endpoint, with every attempt; retried with backoff for 24 h.")
class WebhookDelivery(Node):
    row: strawberry.Private[DeliveryRow]
    event: strawberry.Private[EventRow]
    logged: strawberry.Private[list[AttemptRow]]

    @classmethod
    def of(cls, row: DeliveryRow, event: EventRow, logged: list[AttemptRow]) -> WebhookDelivery:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("WebhookDelivery", row.id)), row=row, event=event, logged=logged)

    @strawberry.field(description="The `webhook-id` header: the same for every attempt and every endpoint.")
    def webhook_id(self) -> str:
        return self.event.message_id

    @strawberry.field
    def event_type(self) -> WebhookEventTypeEnum:  # type: ignore[valid-type]
        return WebhookEventType(self.event.type)

    @strawberry.field(description="The JSON body, exactly as sent.")
    def payload(self) -> str:
        return self.event.body

    @strawberry.field
    def state(self) -> WebhookDeliveryStateEnum:  # type: ignore[valid-type]
        return DeliveryState(self.row.state)

    @strawberry.field
    def attempt_count(self) -> int:
        return self.row.attempts

    @strawberry.field
    def next_attempt_at(self) -> datetime | None:
        return self.row.next_attempt_at if self.row.state == DeliveryState.PENDING else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at

    @strawberry.field
    def last_status(self) -> int | None:
        return self.row.last_status

    @strawberry.field
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field(description="The delivery log, first attempt first.")
    def attempts(self, first: int, after: str | None = None) -> Connection[WebhookAttempt]:
        check_page_size(first, None)
        after_no = decode_cursor(after, "attempt") or 0
        rows = [a for a in self.logged if a.attempt > after_no]
        page = rows[:first]
        cursors = [encode_cursor("attempt", a.attempt) for a in page]
        return connection([WebhookAttempt(row=a) for a in page], cursors, len(rows) > first, after_no > 0)


async def load_delivery_page(
    info: Info[Context, None], endpoint_id: int, first: int, after: str | None
) -> Connection[WebhookDelivery]:
    """One query for the deliveries, one for their events, one for all their attempts."""
    check_page_size(first, None)
    after_id = decode_cursor(after, "delivery")
    async with info.context.read() as session:
        rows, more = await deliveries.deliveries_of(session, endpoint_id, first, after_id)
        ids = [r.id for r in rows if r.id is not None]
        events = await deliveries.events_by_id(session, [r.event_id for r in rows])
        logged = await deliveries.attempts_of(session, ids)
    nodes = [WebhookDelivery.of(r, events[r.event_id], logged[r.id or 0]) for r in rows]
    return connection(nodes, [encode_cursor("delivery", i) for i in ids], more, after_id is not None)


@strawberry.type(description="Where a partner wants events posted, signed as Standard Webhooks.")
class WebhookEndpoint(Node):
    row: strawberry.Private[EndpointRow]

    @classmethod
    def of(cls, row: EndpointRow) -> WebhookEndpoint:
        assert row.id is not None
        return cls(id=strawberry.ID(encode_gid("WebhookEndpoint", row.id)), row=row)

    @strawberry.field
    def url(self) -> str:
        return self.row.url

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def event_types(self) -> list[WebhookEventTypeEnum]:  # type: ignore[valid-type]
        return [WebhookEventType(t) for t in self.row.event_types]

    @strawberry.field
    def state(self) -> WebhookEndpointStateEnum:  # type: ignore[valid-type]
        return EndpointState(self.row.state)

    @strawberry.field(description="Why it was switched off: by whom, or the failures that did it.")
    def disabled_reason(self) -> str | None:
        return disabled_reason_of(self.row)

    @strawberry.field
    def disabled_at(self) -> datetime | None:
        return self.row.disabled_at

    @strawberry.field(description="Attempts that failed in a row; any success resets it.")
    def consecutive_failures(self) -> int:
        return self.row.consecutive_failures

    @strawberry.field(description="Until when the previous secret signs too, after a rotation.")
    def previous_secret_until(self) -> datetime | None:
        return self.row.previous_secret_until

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="Newest first.")
    async def deliveries(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        assert self.row.id is not None
        return await load_delivery_page(info, self.row.id, first, after)


async def load_endpoint(info: Info[Context, None], key: int) -> WebhookEndpoint | None:
    principal = info.context.principal
    if not isinstance(principal, Partner | Staff):
        return None
    async with info.context.read() as session:
        try:
            row = await endpoint_of(session, owner_of(principal), key)
        except UserError:
            return None
    return WebhookEndpoint.of(row)


async def load_delivery(info: Info[Context, None], key: int) -> WebhookDelivery | None:
    principal = info.context.principal
    if not isinstance(principal, Partner | Staff):
        return None
    async with info.context.read() as session:
        row = await session.get(DeliveryRow, key)
        if row is None or row.id is None:
            return None
        try:
            await endpoint_of(session, owner_of(principal), row.endpoint_id)
        except UserError:
            return None
        events = await deliveries.events_by_id(session, [row.event_id])
        logged = await deliveries.attempts_of(session, [row.id])
    return WebhookDelivery.of(row, events[row.event_id], logged[row.id])


MANAGE_EXTENSIONS = allow(**MANAGE)
READ_EXTENSIONS = allow(**READ)
