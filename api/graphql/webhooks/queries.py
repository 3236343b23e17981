"""What partners and staff ask of webhooks: the endpoints, and through them each delivery and its attempts."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.ids import decode_cursor
from api.graphql.pagination import Connection, check_page_size, id_connection
from api.graphql.webhooks.types import READ_EXTENSIONS, WebhookEndpoint, owner_of
from domain.webhooks.endpoints import endpoints


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="Webhook endpoints, oldest first: a partner key sees its own, staff every partner's.",
        extensions=READ_EXTENSIONS,
    )
    async def webhook_endpoints(
        self, info: Info[Context, None], first: int, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        check_page_size(first, None)
        after_id = decode_cursor(after, "webhook_endpoint")
        async with info.context.read() as session:
            rows, more = await endpoints(session, owner_of(info.context.principal), first, after_id)
        return id_connection(
            [WebhookEndpoint.of(r) for r in rows], rows, "webhook_endpoint", more, after_id is not None
        )
