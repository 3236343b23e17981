"""Registering, changing and re-keying webhook endpoints, and redelivering what one missed."""

from __future__ import annotations

from datetime import timedelta

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import summary, user_errors
from api.graphql.ids import decode_gid
from api.graphql.webhooks.types import (
    MANAGE_EXTENSIONS,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookErrorCode,
    WebhookEventTypeEnum,
    WebhookUserError,
    load_delivery,
    owner_of,
)
from domain.errors import UserError
from domain.intake.models import Outcome
from domain.outbox.service import Outbox
from domain.webhooks import deliveries, endpoints
from domain.webhooks.events import WebhookEventType


async def _refused(info: Info[Context, None], error: UserError) -> list[WebhookUserError]:
    """The recorded request (a partner's) is closed REJECTED with the problems, as the answer names them."""
    await info.context.record_outcome(Outcome.REJECTED, summary(error.problems))
    return user_errors(WebhookUserError, WebhookErrorCode, error.problems)


def _types(chosen: list[WebhookEventType]) -> list[str]:
    return [WebhookEventType(t).value for t in chosen]


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s); redirects are not followed, so give the endpoint itself.")
    event_types: list[WebhookEventTypeEnum]  # type: ignore[valid-type]
    description: str = ""
    partner_key_id: strawberry.ID | None = strawberry.field(
        default=None, description="Admins: the partner key the endpoint serves. Partners register for themselves."
    )


@strawberry.type
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(description="The signing secret (whsec_...), shown this once.")
    user_errors: list[WebhookUserError]


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_types: list[WebhookEventTypeEnum] | None = None  # type: ignore[valid-type]
    enabled: bool | None = strawberry.field(
        default=None, description="Enabling starts the failure count afresh; missed deliveries are redelivered."
    )


@strawberry.type
class UpdateWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    user_errors: list[WebhookUserError]


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    overlap_hours: float | None = strawberry.field(
        default=None, description="How long the old secret keeps signing beside the new one (default 24, at most 168)."
    )


@strawberry.type
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(description="The new signing secret, shown this once.")
    user_errors: list[WebhookUserError]


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.type
class RedeliverWebhookPayload:
    delivery: WebhookDelivery | None
    user_errors: list[WebhookUserError]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register an endpoint for a partner: partners for themselves (order events), admins for any "
        "partner key and any event type.",
        extensions=MANAGE_EXTENSIONS,
    )
    async def create_webhook_endpoint(
        self, info: Info[Context, None], input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        owner = owner_of(info.context.principal)
        key_id = None if input.partner_key_id is None else decode_gid(input.partner_key_id, "PartnerKey")[1]
        try:
            async with info.context.unit_of_work() as session:
                row, secret = await endpoints.register(
                    session, info.context.runtime.core.vault, owner, url=input.url,
                    event_types=_types(input.event_types), description=input.description, partner_key_id=key_id,
                )  # fmt: skip
                await info.context.mark_applied(session)
        except UserError as error:
            return CreateWebhookEndpointPayload(endpoint=None, secret=None, user_errors=await _refused(info, error))
        _heard(info)
        return CreateWebhookEndpointPayload(endpoint=WebhookEndpoint.of(row), secret=secret, user_errors=[])

    @strawberry.mutation(
        description="Change an endpoint's URL or event types, or switch it off or on.", extensions=MANAGE_EXTENSIONS
    )
    async def update_webhook_endpoint(
        self, info: Info[Context, None], input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointPayload:
        _, key = decode_gid(input.id, "WebhookEndpoint")
        types = None if input.event_types is None else _types(input.event_types)
        try:
            async with info.context.unit_of_work() as session:
                row = await endpoints.change(
                    session, owner_of(info.context.principal), key, url=input.url, event_types=types,
                    enabled=input.enabled,
                )  # fmt: skip
                await info.context.mark_applied(session)
        except UserError as error:
            return UpdateWebhookEndpointPayload(endpoint=None, user_errors=await _refused(info, error))
        _heard(info)
        return UpdateWebhookEndpointPayload(endpoint=WebhookEndpoint.of(row), user_errors=[])

    @strawberry.mutation(
        description="A new signing secret; the old one keeps signing beside it for the overlap, so both signatures "
        "are sent and a receiver can switch without a gap.",
        extensions=MANAGE_EXTENSIONS,
    )
    async def rotate_webhook_secret(
        self, info: Info[Context, None], input: RotateWebhookSecretInput
    ) -> RotateWebhookSecretPayload:
        _, key = decode_gid(input.id, "WebhookEndpoint")
        hours = info.context.runtime.settings.webhook_secret_overlap_hours
        overlap = timedelta(hours=hours if input.overlap_hours is None else input.overlap_hours)
        try:
            async with info.context.unit_of_work() as session:
                row, secret = await endpoints.rotate_secret(
                    session, info.context.runtime.core.vault, owner_of(info.context.principal), key, overlap
                )
                await info.context.mark_applied(session)
        except UserError as error:
            return RotateWebhookSecretPayload(endpoint=None, secret=None, user_errors=await _refused(info, error))
        return RotateWebhookSecretPayload(endpoint=WebhookEndpoint.of(row), secret=secret, user_errors=[])

    @strawberry.mutation(
        description="Send a delivery again now, with the same webhook-id, whatever became of it before.",
        extensions=MANAGE_EXTENSIONS,
    )
    async def redeliver_webhook(
        self, info: Info[Context, None], input: RedeliverWebhookInput
    ) -> RedeliverWebhookPayload:
        _, key = decode_gid(input.delivery_id, "WebhookDelivery")
        try:
            async with info.context.unit_of_work() as session:
                await deliveries.redeliver(session, Outbox(), owner_of(info.context.principal), key)
                await info.context.mark_applied(session)
        except UserError as error:
            return RedeliverWebhookPayload(delivery=None, user_errors=await _refused(info, error))
        return RedeliverWebhookPayload(delivery=await load_delivery(info, key), user_errors=[])


def _heard(info: Info[Context, None]) -> None:
    """This process's relay reads the subscriptions again at once; other processes within their cache time."""
    webhooks = info.context.runtime.relay.webhooks
    if webhooks is not None:
        webhooks.forget()
